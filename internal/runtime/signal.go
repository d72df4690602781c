package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's main process.
func (r *Runtime) Kill(ctx context.Context, st *State, sig syscall.Signal) error {
	if !st.Running() || !alive(st.Pid, st.PidStart) {
		return fmt.Errorf("cannot kill container %s: container is not running", st.ShortID())
	}
	if err := unix.Kill(st.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill container %s: %w", st.ShortID(), err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to timeout for the container to exit, then
// sends SIGKILL; killed reports whether it had to. Stopping a container
// that is not running does nothing.
func (r *Runtime) Stop(ctx context.Context, st *State, timeout time.Duration) (killed bool, err error) {
	if !st.Running() {
		return false, nil
	}
	if err := r.Kill(ctx, st, unix.SIGTERM); err != nil {
		if cur, lerr := r.load(st.ID); lerr == nil && !cur.Running() {
			*st = *cur
			return false, nil
		}
		return false, err
	}
	if r.waitExit(ctx, st, timeout) {
		return false, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err := r.Kill(ctx, st, unix.SIGKILL); err != nil {
		if !st.Running() {
			return false, nil
		}
	}
	if !r.waitExit(ctx, st, 10*time.Second) {
		return true, fmt.Errorf("container %s did not exit after SIGKILL", st.ShortID())
	}
	return true, nil
}

// Wait blocks until the container is no longer running and returns its
// exit code.
func (r *Runtime) Wait(ctx context.Context, st *State) (int, error) {
	for {
		cur, err := r.load(st.ID)
		if err != nil {
			return -1, fmt.Errorf("wait for %s: %w", st.ShortID(), err)
		}
		*st = *cur
		if !st.Running() {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ParseSignal reads a signal as Docker's kill -s takes it: "KILL",
// "SIGKILL" or "9".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal: %s", s)
	}
	return sig, nil
}
