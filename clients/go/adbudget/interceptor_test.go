package adbudget

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
	"github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1/campaignv1connect"
)

const testID = "0190a000-0000-7000-8000-0000000000aa"

func TestCallPolicyRetries(t *testing.T) {
	unavailable := func(n int) []connect.Code {
		codes := make([]connect.Code, n)
		for i := range codes {
			codes[i] = connect.CodeUnavailable
		}
		return codes
	}
	tests := []struct {
		name      string
		procedure string
		fail      []connect.Code
		wantCalls int
		wantCode  connect.Code // 0: success
	}{
		{"NO_SIDE_EFFECTS retried on UNAVAILABLE", "get", unavailable(2), 3, 0},
		{"IDEMPOTENT retried, 5 attempts at most", "pause", unavailable(10), 5, connect.CodeUnavailable},
		{"a call with side effects is never retried", "create", unavailable(1), 1, connect.CodeUnavailable},
		{"other codes are not retried", "get", []connect.Code{connect.CodeInvalidArgument}, 1, connect.CodeInvalidArgument},
		{"DEADLINE_EXCEEDED is not retried", "get", []connect.Code{connect.CodeDeadlineExceeded}, 1, connect.CodeDeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeCampaigns()
			fake.fail[tt.procedure] = tt.fail
			client := testCampaignClient(t, fake, StaticToken("tok"))
			var err error
			ctx := context.Background()
			switch tt.procedure {
			case "get":
				_, err = client.GetCampaign(ctx, connect.NewRequest(&campaignv1.GetCampaignRequest{Id: testID}))
			case "pause":
				_, err = client.PauseCampaign(ctx, connect.NewRequest(&campaignv1.PauseCampaignRequest{Id: testID}))
			case "create":
				_, err = client.CreateCampaign(ctx, connect.NewRequest(&campaignv1.CreateCampaignRequest{}))
			}
			if got := fake.callsOf(tt.procedure); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if connect.CodeOf(err) != tt.wantCode && !(tt.wantCode == 0 && err == nil) {
				t.Errorf("err = %v, want code %v", err, tt.wantCode)
			}
		})
	}
}

// testCampaignClient is a client of fake with the SDK's call policy, its backoff shrunk.
func testCampaignClient(t *testing.T, fake *fakeCampaigns, tokens TokenSource, opts ...Option) campaignv1connect.CampaignServiceClient {
	cfg := defaultCommon()
	for _, o := range opts {
		o.applyCommon(&cfg)
	}
	p := newCallPolicy(NewTokenCache(tokens), cfg)
	p.backoff = backoff{base: time.Millisecond, max: 2 * time.Millisecond}
	return campaignv1connect.NewCampaignServiceClient(NewHTTPClient(), fake.serve(t), connect.WithInterceptors(p))
}

func TestCallPolicyBearerAndRenewal(t *testing.T) {
	fake := newFakeCampaigns()
	n := 0
	tokens := TokenFunc(func(context.Context) (string, error) { n++; return "tok-" + string(rune('0'+n)), nil })
	client := testCampaignClient(t, fake, tokens)
	ctx := context.Background()
	get := func() error {
		_, err := client.GetCampaign(ctx, connect.NewRequest(&campaignv1.GetCampaignRequest{Id: testID}))
		return err
	}
	_ = get()
	fake.fail["get"] = []connect.Code{connect.CodeUnauthenticated}
	if err := get(); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("err = %v, want UNAUTHENTICATED (not retried)", err)
	}
	_ = get()
	want := []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}
	if strings.Join(fake.auth, ",") != strings.Join(want, ",") {
		t.Errorf("authorization headers %v, want %v: a refused token is renewed for the next call", fake.auth, want)
	}
}

func TestCallPolicyDeadline(t *testing.T) {
	fake := newFakeCampaigns()
	fake.delay = 200 * time.Millisecond
	client := testCampaignClient(t, fake, StaticToken("tok"), WithCallTimeout(20*time.Millisecond))
	start := time.Now()
	_, err := client.GetCampaign(context.Background(), connect.NewRequest(&campaignv1.GetCampaignRequest{Id: testID}))
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded || time.Since(start) > 150*time.Millisecond {
		t.Errorf("a unary call past its deadline: %v after %s, want DEADLINE_EXCEEDED after ~20 ms", err, time.Since(start))
	}
}

func TestCallPolicyNoDeadlineOnStreams(t *testing.T) {
	fake := newFakeCampaigns()
	client := testCampaignClient(t, fake, StaticToken("tok"), WithCallTimeout(20*time.Millisecond))
	// The watch waits for a session that never comes: the stream must outlive the unary deadline
	// and end only with the caller's context, at 150 ms.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if stream, err := client.WatchCampaigns(ctx, connect.NewRequest(&campaignv1.WatchCampaignsRequest{})); err == nil {
		stream.Receive()
	}
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("the stream ended after %s: the unary deadline must not apply to streams", d)
	}
}
