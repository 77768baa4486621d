package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/adbudget/adbudget/clients/go/adbudget"
)

// servingLookup is what the handlers need of the SDK's ServingCache.
type servingLookup interface {
	ShouldServe(id string) bool
	Staleness() time.Duration
	Stats() adbudget.CacheStats
}

// spendSink is what the handlers need of the SDK's SpendReporter.
type spendSink interface {
	Report(adbudget.SpendEvent) (bool, error)
	Stats() adbudget.ReporterStats
}

// adServer answers ad requests from the cache and bills each served ad through the reporter.
type adServer struct {
	cache       servingLookup
	reporter    spendSink
	brandID     string
	priceMicros int64
	newEventID  func() string
	ready       *atomic.Bool // the cache's first snapshot has come
	logger      *slog.Logger
}

func (s *adServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ad", s.ad)
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}

// ad serves GET /ad?campaign=<id>: 200 and one spend event when the campaign may serve, 204
// when it may not. The lookup is in memory (no call), so the answer costs nothing here.
func (s *adServer) ad(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("campaign")
	if id == "" {
		http.Error(w, "campaign is required: GET /ad?campaign=<id>", http.StatusBadRequest)
		return
	}
	// Serving, and (a paced budget) this opportunity drawn within the campaign's throttle.
	if !s.cache.ShouldServe(id) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// A random id per impression: the budget service counts each (brand, id) once, so a retry
	// of this very event (the reporter's, or a replay of the spool) is never counted twice.
	ok, err := s.reporter.Report(adbudget.SpendEvent{
		ID: s.newEventID(), BrandID: s.brandID, CampaignID: id, AmountMicros: s.priceMicros,
	})
	switch {
	case errors.Is(err, adbudget.ErrInvalidEvent):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil || !ok:
		// Spend that cannot be billed (spool unwritable, reporter full or closing) is not served:
		// serving it would spend a budget adbudget never hears of.
		s.logger.Warn("spend not accepted: ad not served", "campaign", id, "err", err)
		http.Error(w, "spend reporting unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaign": id, "served": true})
}

// unhealthyAfter is the staleness past which /healthz answers 503: the SDK's default stale
// limit, from which the cache answers false for every campaign (StopServing), so this server
// serves nothing and a load balancer should send its requests elsewhere.
const unhealthyAfter = 30 * time.Second

// healthz serves GET /healthz: how fresh the cache is and what the reporter did; 200 once the
// cache has its first snapshot and while it is not stale, 503 otherwise (before the snapshot
// every campaign answers 204: not ready to take traffic).
func (s *adServer) healthz(w http.ResponseWriter, _ *http.Request) {
	cache := s.cache.Stats()
	rep := s.reporter.Stats()
	staleness := s.cache.Staleness()
	status := http.StatusOK
	if !s.ready.Load() || staleness >= unhealthyAfter {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{
		"ready":        s.ready.Load(),
		"staleness_ms": staleness.Milliseconds(),
		"cache": map[string]any{
			"campaigns": cache.Campaigns, "reconnects": cache.Reconnects, "events": cache.Events, "snapshots": cache.Snapshots,
		},
		"reporter": map[string]any{
			"accepted": rep.Accepted, "replayed": rep.Replayed, "acknowledged": rep.Acknowledged, "duplicates": rep.Duplicates,
			"rejected": rep.Rejected, "dropped": rep.Dropped, "retries": rep.Retries, "queued": rep.Queued, "in_flight": rep.InFlight,
		},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
