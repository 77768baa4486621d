//go:build unix

package adbudget

import (
	"errors"
	"syscall"
)

// processAlive says whether a process with this pid exists (signal 0 checks without sending).
// EPERM means it exists under another user. A zombie (dead, not yet reaped by its parent) still
// counts as alive: whoever kills a reporter must reap it before another takes the spool.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
