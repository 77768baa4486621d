package adbudget

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// guard runs a caller's callback (OnChange, OnRejected, OnDrop) so that a panic in it cannot
// kill the SDK's goroutine that called it (a timer's, a batch's: the panic would end the whole
// ad server) nor undo the SDK's bookkeeping, which is done before the call (docs/sdk.md:
// callbacks run guarded). A callback that panics is the caller's bug: it is logged, with its
// stack, and otherwise ignored.
func guard(logger *slog.Logger, callback string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			logger.Error("adbudget: a callback panicked; ignored", "callback", callback,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	f()
}
