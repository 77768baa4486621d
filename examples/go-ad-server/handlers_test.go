package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adbudget/adbudget/clients/go/adbudget"
)

type fakeCache struct {
	serving   map[string]bool
	staleness time.Duration
}

func (f fakeCache) ShouldServe(id string) bool { return f.serving[id] }
func (f fakeCache) Staleness() time.Duration { return f.staleness }
func (fakeCache) Stats() adbudget.CacheStats { return adbudget.CacheStats{Campaigns: 2} }

type fakeReporter struct {
	accept bool
	events []adbudget.SpendEvent
}

func (f *fakeReporter) Report(e adbudget.SpendEvent) (bool, error) {
	f.events = append(f.events, e)
	return f.accept, nil
}
func (f *fakeReporter) Stats() adbudget.ReporterStats {
	return adbudget.ReporterStats{Accepted: int64(len(f.events))}
}

const (
	brand = "0190a000-0000-7000-8000-000000000001"
	live  = "0190a000-0000-7000-8000-000000000002"
	off   = "0190a000-0000-7000-8000-000000000003"
)

func TestAd(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		accept     bool
		wantStatus int
		wantEvents int
	}{
		{"serving: 200 and one spend event", "campaign=" + live, true, http.StatusOK, 1},
		{"not serving: 204, nothing billed", "campaign=" + off, true, http.StatusNoContent, 0},
		{"unknown campaign: 204", "campaign=nope", true, http.StatusNoContent, 0},
		{"no campaign: 400", "", true, http.StatusBadRequest, 0},
		{"reporter refuses: not served", "campaign=" + live, false, http.StatusServiceUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &fakeReporter{accept: tt.accept}
			s := &adServer{cache: fakeCache{serving: map[string]bool{live: true}}, reporter: rep, brandID: brand,
				priceMicros: 2000, newEventID: newEventID, ready: &atomic.Bool{}, logger: slog.New(slog.DiscardHandler)}
			w := httptest.NewRecorder()
			s.routes().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ad?"+tt.query, nil))
			if w.Code != tt.wantStatus || len(rep.events) != tt.wantEvents {
				t.Fatalf("status %d with %d events, want %d with %d", w.Code, len(rep.events), tt.wantStatus, tt.wantEvents)
			}
			if tt.wantStatus == http.StatusOK {
				if got := strings.TrimSpace(w.Body.String()); got != `{"campaign":"`+live+`","served":true}` {
					t.Errorf("body %s", got)
				}
				e := rep.events[0]
				if e.BrandID != brand || e.CampaignID != live || e.AmountMicros != 2000 {
					t.Errorf("event %+v", e)
				}
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name       string
		ready      bool
		staleness  time.Duration
		wantStatus int
	}{
		{"before the first snapshot", false, 1500 * time.Millisecond, http.StatusServiceUnavailable},
		{"in sync", true, 0, http.StatusOK},
		{"reconnecting", true, 1500 * time.Millisecond, http.StatusOK},
		{"stale past the limit", true, unhealthyAfter, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready := &atomic.Bool{}
			ready.Store(tt.ready)
			s := &adServer{cache: fakeCache{staleness: tt.staleness}, reporter: &fakeReporter{}, ready: ready, logger: slog.New(slog.DiscardHandler)}
			w := httptest.NewRecorder()
			s.routes().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			var body struct {
				StalenessMs int64          `json:"staleness_ms"`
				Reporter    map[string]any `json:"reporter"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tt.wantStatus ||
				body.StalenessMs != tt.staleness.Milliseconds() || body.Reporter["accepted"] == nil {
				t.Errorf("healthz %d %s (%v)", w.Code, w.Body.String(), err)
			}
		})
	}
}

func TestNewEventID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newEventID()
		if !uuid4.MatchString(id) || seen[id] {
			t.Fatalf("event id %q: not a fresh version-4 UUID", id)
		}
		seen[id] = true
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // empty: valid
	}{
		{"defaults", map[string]string{"ADBUDGET_TOKEN": "t", "BRAND_ID": brand}, ""},
		{"no token", map[string]string{"BRAND_ID": brand}, "ADBUDGET_TOKEN is required"},
		{"no brand", map[string]string{"ADBUDGET_TOKEN": "t"}, "BRAND_ID is required"},
		{"bad price", map[string]string{"ADBUDGET_TOKEN": "t", "BRAND_ID": brand, "PRICE_MICROS": "2.5"}, "PRICE_MICROS"},
		{"bad port", map[string]string{"ADBUDGET_TOKEN": "t", "BRAND_ID": brand, "PORT": "http"}, "PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				if err != nil || c.campaignURL != "http://127.0.0.1:50053" || c.budgetURL != "http://127.0.0.1:50052" ||
					c.port != "8081" || c.priceMicros != 2000 || c.spoolDir != "./.spool" {
					t.Errorf("config %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
