package adbudget

import (
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// benchCache is a cache with n campaigns installed directly (no stream): half serving, a
// quarter dayparted with a next_change_time ahead, a quarter paused.
func benchCache(tb testing.TB, n int) (*ServingCache, []string) {
	tb.Helper()
	c := &ServingCache{cfg: defaultCacheConfig()}
	c.notes.init(c)
	c.ready = make(chan struct{})
	slots := make(map[string]*slot, n)
	ids := make([]string, n)
	ahead := timestamppb.New(time.Now().Add(time.Hour))
	for i := range ids {
		ids[i] = "0190a000-0000-7000-8000-" + strconv.FormatInt(int64(100000000000+i), 10)
		cp := &campaignv1.Campaign{Id: ids[i]}
		switch i % 4 {
		case 1:
			cp.NextChangeTime = ahead
		case 2:
			cp.PauseReasons = []campaignv1.PauseReason{campaignv1.PauseReason_PAUSE_REASON_PAUSED_BY_USER}
		}
		slots[ids[i]] = newSlot(entryOf(cp))
	}
	c.notes.installSnapshot(slots)
	return c, ids
}

func BenchmarkIsServing(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run("campaigns="+strconv.Itoa(n), func(b *testing.B) {
			c, ids := benchCache(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.IsServing(ids[i%len(ids)])
				i++
			}
		})
	}
	b.Run("campaigns=100000/parallel", func(b *testing.B) {
		c, ids := benchCache(b, 100_000)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c.IsServing(ids[i%len(ids)])
				i++
			}
		})
	})
}

func TestIsServingDoesNotAllocate(t *testing.T) {
	c, ids := benchCache(t, 1000)
	if n := testing.AllocsPerRun(1000, func() { c.IsServing(ids[1]) }); n != 0 {
		t.Errorf("IsServing allocates %v times per call", n)
	}
}
