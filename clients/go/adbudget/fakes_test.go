package adbudget

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
	"github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1/campaignv1connect"
)

// serveH2C serves h over HTTP/2 without TLS (as the services are reached in development), so
// the tests exercise NewHTTPClient's h2c path. It returns the server's URL.
func serveH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeCampaigns is a CampaignService whose unary calls fail as a test scripts, and whose
// WatchCampaigns streams are played by the test one session at a time.
type fakeCampaigns struct {
	campaignv1connect.UnimplementedCampaignServiceHandler

	mu       sync.Mutex
	fail     map[string][]connect.Code // per procedure: the codes of its next answers
	calls    map[string]int
	auth     []string // authorization headers, in order
	sessions chan *watchSession
	delay    time.Duration // each unary answer waits this long
}

// watchSession is one WatchCampaigns stream: the test sends messages, then ends it.
type watchSession struct {
	msgs chan *campaignv1.WatchCampaignsResponse
	end  chan error
}

func newWatchSession() *watchSession {
	return &watchSession{msgs: make(chan *campaignv1.WatchCampaignsResponse, 64), end: make(chan error, 1)}
}

func newFakeCampaigns() *fakeCampaigns {
	return &fakeCampaigns{fail: map[string][]connect.Code{}, calls: map[string]int{}, sessions: make(chan *watchSession, 8)}
}

// serve starts the fake and returns its URL.
func (f *fakeCampaigns) serve(t *testing.T) string {
	path, h := campaignv1connect.NewCampaignServiceHandler(f)
	mux := http.NewServeMux()
	mux.Handle(path, h)
	return serveH2C(t, mux)
}

// answer records a call and returns the scripted error of this answer, if any.
func (f *fakeCampaigns) answer(procedure string, h http.Header) error {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[procedure]++
	f.auth = append(f.auth, h.Get("Authorization"))
	if codes := f.fail[procedure]; len(codes) > 0 {
		f.fail[procedure] = codes[1:]
		return connect.NewError(codes[0], nil)
	}
	return nil
}

func (f *fakeCampaigns) callsOf(procedure string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[procedure]
}

func (f *fakeCampaigns) GetCampaign(_ context.Context, req *connect.Request[campaignv1.GetCampaignRequest]) (*connect.Response[campaignv1.GetCampaignResponse], error) {
	if err := f.answer("get", req.Header()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&campaignv1.GetCampaignResponse{Campaign: &campaignv1.Campaign{Id: req.Msg.GetId()}}), nil
}

func (f *fakeCampaigns) PauseCampaign(_ context.Context, req *connect.Request[campaignv1.PauseCampaignRequest]) (*connect.Response[campaignv1.PauseCampaignResponse], error) {
	if err := f.answer("pause", req.Header()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&campaignv1.PauseCampaignResponse{}), nil
}

func (f *fakeCampaigns) CreateCampaign(_ context.Context, req *connect.Request[campaignv1.CreateCampaignRequest]) (*connect.Response[campaignv1.CreateCampaignResponse], error) {
	if err := f.answer("create", req.Header()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&campaignv1.CreateCampaignResponse{}), nil
}

func (f *fakeCampaigns) WatchCampaigns(ctx context.Context, req *connect.Request[campaignv1.WatchCampaignsRequest], stream *connect.ServerStream[campaignv1.WatchCampaignsResponse]) error {
	if err := f.answer("watch", req.Header()); err != nil {
		return err
	}
	var s *watchSession
	select {
	case s = <-f.sessions:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case m := <-s.msgs:
			if err := stream.Send(m); err != nil {
				return err
			}
		case err := <-s.end:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
