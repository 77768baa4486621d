package adbudget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/adbudget/adbudget/clients/go/adbudget"
	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// The cache converges on the server's truth after every campaign replica was SIGKILLed while
// campaigns were paused and resumed: the streams break, the cache reconnects through the
// balancer, and the new snapshot carries every change committed meanwhile.
func TestIntegrationCacheConvergesAfterReplicaKills(t *testing.T) {
	sys := integrationSystem(t)
	ctx := t.Context()
	const n = 20 // enough that random pauses and resumes hit most campaigns during the kills
	ids := make([]string, n)
	for i := range ids {
		ids[i] = sys.createCampaign(t, fmt.Sprintf("converge-%d", i), nil).GetId()
	}
	cache := sys.readyCache(t, ctx, adbudget.StaticToken(sys.adServerToken))

	// Pause and resume at random (admin; PauseCampaign and ResumeCampaign are IDEMPOTENT, so
	// the SDK's interceptor retries them on UNAVAILABLE while a replica dies).
	admin := sys.adminCampaigns()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mutations, failures atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := ids[rand.IntN(n)]
			var err error
			if rand.IntN(2) == 0 {
				_, err = admin.PauseCampaign(ctx, connect.NewRequest(&campaignv1.PauseCampaignRequest{Id: id}))
			} else {
				_, err = admin.ResumeCampaign(ctx, connect.NewRequest(&campaignv1.ResumeCampaignRequest{Id: id}))
			}
			if err != nil {
				failures.Add(1) // outcome unknown: the truth read below decides
			} else {
				mutations.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	breakCtx, cancelBreak := context.WithTimeout(ctx, 90*time.Second)
	body, err := sys.control(breakCtx, "/break-campaign-streams")
	cancelBreak()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	var broke struct{ Killed int }
	if err := json.Unmarshal([]byte(body), &broke); err != nil || broke.Killed != 2 {
		t.Errorf("break-campaign-streams answered %q: want both replicas SIGKILLed", body)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	stoppedAt := time.Now()

	// Within 15 s every campaign answers as the server says.
	var mismatched []string
	for {
		truth, err := sys.servingTruth(ctx)
		if err != nil {
			t.Fatalf("ListCampaigns: %v", err)
		}
		mismatched = mismatched[:0]
		for _, id := range ids {
			if cache.IsServing(id) != truth[id] {
				mismatched = append(mismatched, id)
			}
		}
		if len(mismatched) == 0 || time.Since(stoppedAt) > 15*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := cache.Stats()
	if len(mismatched) > 0 {
		t.Fatalf("15 s after the mutations stopped, %d of %d campaigns differ from the server: %v (stats %+v)", len(mismatched), n, mismatched, st)
	}
	if st.Reconnects < 1 {
		t.Fatalf("no reconnect: the replica kills did not reach the cache's stream (stats %+v)", st)
	}
	t.Logf("converged %s ms after the last mutation: %d mutations (%d failed during the kills), %d replicas killed; stats %+v, staleness %s",
		ms(time.Since(stoppedAt)), mutations.Load(), failures.Load(), broke.Killed, st, cache.Staleness())
}
