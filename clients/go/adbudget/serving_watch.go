package adbudget

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// errStreamEnded is a stream the server closed without an error (a replica shutting down): the
// cache reconnects as for any other end.
var errStreamEnded = errors.New("the stream ended")

// run keeps a WatchCampaigns stream open until ctx is done (docs/sdk.md, Resume without a gap):
// whatever ends a stream (a replica killed, a network cut, RESOURCE_EXHAUSTED for a slow
// reader, UNAUTHENTICATED at the token's expiry), the table keeps answering and a new stream's
// snapshot replaces it.
func (c *ServingCache) run(ctx context.Context) {
	defer close(c.done)
	defer c.notes.stop()
	failures := 0 // consecutive streams that ended before their snapshot completed
	for {
		used, err := c.watch(ctx, &failures)
		if ctx.Err() != nil {
			return
		}
		c.lastErr.Store(&err)
		c.notes.lostSync()
		c.reconnects.Add(1)
		delay := reconnectBackoff.delay(failures, jitter)
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			// The token expired or was revoked: renew it now, and reconnect at once if that gave
			// a new one (a source that hands back the refused token waits out the backoff).
			if token, terr := c.tokens.Token(ctx); terr == nil && token != used {
				delay = 0
			}
		}
		failures++
		c.cfg.common.logger.Info("adbudget: campaign stream ended; reconnecting",
			"err", err, "in", delay, "staleness", c.Staleness())
		if sleepCtx(ctx, delay) != nil {
			return
		}
	}
}

// watch reads one stream to its end, and says with which token it was opened. It resets
// failures once the snapshot completes, so a stream that ran well reconnects at once after it
// ends.
func (c *ServingCache) watch(ctx context.Context, failures *int) (used string, err error) {
	req := connect.NewRequest(&campaignv1.WatchCampaignsRequest{BrandId: c.cfg.brandID})
	stream, err := c.client.WatchCampaigns(ctx, req)
	// The interceptor took the token from c.tokens as it opened the stream.
	used = c.tokens.current()
	if err != nil {
		return used, err
	}
	defer stream.Close()
	pending := map[string]*slot{} // the snapshot being read; nil once installed
	for stream.Receive() {
		msg := stream.Msg()
		camp := msg.GetCampaign()
		switch msg.GetType() {
		case campaignv1.WatchEventType_WATCH_EVENT_TYPE_SNAPSHOT:
			if pending != nil {
				pending[camp.GetId()] = newSlot(entryOf(camp))
			}
		case campaignv1.WatchEventType_WATCH_EVENT_TYPE_SNAPSHOT_COMPLETE:
			if pending != nil {
				c.notes.installSnapshot(pending)
				pending = nil
				*failures = 0
			}
		case campaignv1.WatchEventType_WATCH_EVENT_TYPE_CHANGED:
			c.events.Add(1)
			if pending != nil {
				pending[camp.GetId()] = newSlot(entryOf(camp))
			} else {
				c.notes.applyChange(camp.GetId(), entryOf(camp))
			}
		case campaignv1.WatchEventType_WATCH_EVENT_TYPE_DELETED:
			c.events.Add(1)
			if pending != nil {
				delete(pending, camp.GetId())
			} else {
				c.notes.applyDelete(camp.GetId())
			}
		}
	}
	if err := stream.Err(); err != nil {
		return used, err
	}
	return used, errStreamEnded
}
