package adbudget_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/adbudget/adbudget/clients/go/adbudget"
	budgetv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1"
	"github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1/budgetv1connect"
	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
	"github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1/campaignv1connect"
)

// system is the running adbudget a driver (e2e/src/sdk-go.test.ts) started for the integration
// tests, as its environment describes it.
type system struct {
	campaignURL, budgetURL, controlURL string
	adminToken, adServerToken          string
	brandID, zone                      string
	offset                             time.Duration // the services' clock is the wall clock + offset
	http                               *http.Client
}

// integrationSystem reads the system from the environment; without one (a developer running
// `go test` alone) the test is skipped. The driver fails on any skip, so under it every
// integration test runs.
func integrationSystem(t *testing.T) *system {
	t.Helper()
	s := &system{campaignURL: os.Getenv("ADBUDGET_TEST_CAMPAIGN_URL")}
	if s.campaignURL == "" {
		t.Skip("ADBUDGET_TEST_CAMPAIGN_URL is unset: the integration tests run under e2e/src/sdk-go.test.ts")
	}
	need := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is unset (ADBUDGET_TEST_CAMPAIGN_URL is set: the driver must set every ADBUDGET_TEST_* variable)", name)
		}
		return v
	}
	s.budgetURL = need("ADBUDGET_TEST_BUDGET_URL")
	s.controlURL = need("ADBUDGET_TEST_CONTROL_URL")
	s.adminToken = need("ADBUDGET_TEST_ADMIN_TOKEN")
	s.adServerToken = need("ADBUDGET_TEST_AD_SERVER_TOKEN")
	s.brandID = need("ADBUDGET_TEST_BRAND_ID")
	s.zone = need("ADBUDGET_TEST_ZONE")
	ms, err := strconv.ParseInt(need("ADBUDGET_TEST_CLOCK_OFFSET_MS"), 10, 64)
	if err != nil {
		t.Fatalf("ADBUDGET_TEST_CLOCK_OFFSET_MS: %v", err)
	}
	s.offset = time.Duration(ms) * time.Millisecond
	s.http = adbudget.NewHTTPClient()
	return s
}

// now is the services' clock.
func (s *system) now() time.Time { return time.Now().Add(s.offset) }

func (s *system) adminCampaigns() campaignv1connect.CampaignServiceClient {
	return campaignv1connect.NewCampaignServiceClient(s.http, s.campaignURL,
		connect.WithInterceptors(adbudget.NewInterceptor(adbudget.StaticToken(s.adminToken))))
}

func (s *system) adminBudget() budgetv1connect.BudgetServiceClient {
	return budgetv1connect.NewBudgetServiceClient(s.http, s.budgetURL,
		connect.WithInterceptors(adbudget.NewInterceptor(adbudget.StaticToken(s.adminToken))))
}

// createCampaign creates a campaign of the brand (CreateCampaign is not idempotent: not retried).
func (s *system) createCampaign(t *testing.T, name string, schedule *campaignv1.DaypartSchedule) *campaignv1.Campaign {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.adminCampaigns().CreateCampaign(ctx, connect.NewRequest(&campaignv1.CreateCampaignRequest{
		BrandId: s.brandID, Name: name, Schedule: schedule,
	}))
	if err != nil {
		t.Fatalf("CreateCampaign %q: %v", name, err)
	}
	return res.Msg.GetCampaign()
}

// servingTruth is the server's answer for every campaign of the brand (ListCampaigns, paged).
func (s *system) servingTruth(ctx context.Context) (map[string]bool, error) {
	truth := map[string]bool{}
	req := &campaignv1.ListCampaignsRequest{BrandId: s.brandID, PageSize: 1000}
	for {
		res, err := s.adminCampaigns().ListCampaigns(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		for _, c := range res.Msg.GetCampaigns() {
			truth[c.GetId()] = c.GetServing()
		}
		if req.PageToken = res.Msg.GetNextPageToken(); req.PageToken == "" {
			return truth, nil
		}
	}
}

// spendEvents lists every spend event of a campaign (ListSpendEvents, paged).
func (s *system) spendEvents(ctx context.Context, campaignID string) ([]*budgetv1.SpendEvent, error) {
	var out []*budgetv1.SpendEvent
	req := &budgetv1.ListSpendEventsRequest{BrandId: s.brandID, CampaignId: campaignID, PageSize: 1000}
	for {
		res, err := s.adminBudget().ListSpendEvents(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Msg.GetEvents()...)
		if req.PageToken = res.Msg.GetNextPageToken(); req.PageToken == "" {
			return out, nil
		}
	}
}

// control POSTs to the driver's control endpoint and returns its answer's body.
func (s *system) control(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.controlURL+path, nil)
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %s: %s", path, res.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// logger is the SDK's logger in the integration tests: stderr (the driver shows it on failure),
// not t.Log, which must not be called once a test has ended.
func logger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", name)
}

// ms formats a duration in milliseconds, to the microsecond.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// readyCache starts a ServingCache of the brand on the services' clock and waits (30 s at most)
// for its first snapshot; it is closed when the test ends.
func (s *system) readyCache(t *testing.T, ctx context.Context, tokens adbudget.TokenSource, opts ...adbudget.CacheOption) *adbudget.ServingCache {
	t.Helper()
	opts = append([]adbudget.CacheOption{adbudget.WithBrand(s.brandID), adbudget.WithClock(s.now),
		adbudget.WithLogger(logger(t.Name()))}, opts...)
	cache, err := adbudget.NewServingCache(ctx, s.http, s.campaignURL, tokens, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cache.Ready(readyCtx); err != nil {
		t.Fatal(err)
	}
	return cache
}
