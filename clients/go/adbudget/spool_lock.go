package adbudget

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// spoolLockName is the lock file of a spool directory (docs/sdk.md): it holds the pid of the
// reporter that owns the directory, so two reporters never send (and delete) the same segments.
// A pid rather than flock(2): both SDKs must honour the same lock, and a pid file is what both
// can take; a holder that died (SIGKILL leaves the file behind) is told apart by its pid.
const spoolLockName = "lock"

// heldLocks are the spool directories this process holds, by real path (so "./spool" and a
// symlink to it are one). The pid in a lock file cannot tell this process from an earlier life
// of the same pid (an ad server in a container is pid 1 in every life), so the process
// remembers its own: a lock naming our pid that is not in this set is an earlier life's.
var heldLocks = struct {
	sync.Mutex
	dirs map[string]bool
}{dirs: map[string]bool{}}

// lockSpool takes dir's lock for this process. A lock of a live process (or of this process,
// for another reporter on the same directory) is an error; one left by a dead process is taken
// over. The pid is written to a file of our own first and linked into place, so the lock never
// exists without its pid: an empty lock cannot be told from a live holder's half-written one.
func lockSpool(dir string) (release func(), err error) {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return nil, fmt.Errorf("adbudget: spool %s: %w", dir, err)
	}
	heldLocks.Lock()
	defer heldLocks.Unlock()
	if heldLocks.dirs[real] {
		return nil, fmt.Errorf("adbudget: spool %s is already open in this process: one reporter per spool directory", real)
	}
	path := filepath.Join(real, spoolLockName)
	me := os.Getpid()
	mine := fmt.Sprintf("%s.%d", path, me)
	if err := writeLockFile(mine, me); err != nil {
		return nil, fmt.Errorf("adbudget: spool lock %s: %w", path, err)
	}
	defer os.Remove(mine)
	for attempt := 0; attempt < 3; attempt++ {
		err := os.Link(mine, path)
		if err == nil {
			heldLocks.dirs[real] = true
			return func() { releaseSpoolLock(real, path, me) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("adbudget: spool lock %s: %w", path, err)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released between the link and the read: try again
		}
		if err != nil {
			return nil, fmt.Errorf("adbudget: spool lock %s: %w", path, err)
		}
		// Our own pid here is an earlier life's: this life's locks are in heldLocks.
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 && pid != me && processAlive(pid) {
			return nil, fmt.Errorf("adbudget: spool %s is in use by process %d (its lock file is %s)", dir, pid, path)
		}
		// Left by a process that is gone: take it over.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("adbudget: spool lock %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("adbudget: spool lock %s: could not take the lock (another process took it meanwhile)", path)
}

// writeLockFile writes pid to a new file at path, replacing one an earlier life left there.
func writeLockFile(path string, pid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(strconv.Itoa(pid) + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// releaseSpoolLock removes the lock file if it is still ours (a reporter that outlived its lock,
// taken over by another, must not free the other's), and forgets the directory.
func releaseSpoolLock(real, path string, me int) {
	heldLocks.Lock()
	defer heldLocks.Unlock()
	delete(heldLocks.dirs, real)
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(me) {
		_ = os.Remove(path)
	}
}
