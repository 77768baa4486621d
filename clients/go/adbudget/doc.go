// Package adbudget is the Go ad-server SDK of adbudget: the two hard parts of integrating an ad
// server with it, kept to the contract both SDKs share (docs/sdk.md).
//
//   - [ServingCache] knows, in memory and at every instant, which campaigns may serve. It follows
//     CampaignService.WatchCampaigns, resumes a broken stream from a fresh snapshot, and switches
//     a campaign at its next_change_time by itself, so a lookup is exact to the millisecond
//     without waiting for the event that confirms the switch.
//   - [SpendReporter] reports spend so that every accepted event is counted exactly once: it
//     never blocks its caller on the network, batches into RecordSpendBatch, retries with the same
//     event ids for ever, and with a spool directory keeps what it accepted across a crash.
//
// Both take an HTTP/2 client ([NewHTTPClient]) and a [TokenSource]; every call carries a bearer
// token that a [TokenCache] refreshes before it expires (see [NewInterceptor] for the call
// policy: deadlines and retries).
package adbudget
