package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/snapshot"
)

// StepSpec describes one process run on an overlay of read-only layers
// under a writable one, as a build's RUN step is.
type StepSpec struct {
	// Lowers are the layer directories, topmost first; Upper receives the
	// changes and Work is overlayfs's work directory (same file system).
	Lowers      []string
	Upper, Work string
	// Args is the command; Env its whole environment (PATH is added if
	// missing); WorkDir its directory ("/" if empty); User as --user takes
	// it, resolved against the layers' /etc/passwd.
	Args    []string
	Env     []string
	WorkDir string
	User    string
	// Network is NetworkHost (the default for a step), NetworkPrivate or
	// NetworkNone.
	Network string
	// Mounts are extra mounts (bind mounts of the build context, caches).
	Mounts []specs.Mount
	// Stdin is the process's input (nil: none); Stdout and Stderr receive
	// its output (nil: discarded).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Runtime is the OCI runtime binary, "runc" if empty.
	Runtime string
	// StateRoot is the runtime's state directory, /run/strata/runc if
	// empty.
	StateRoot string
	// Volatile mounts the overlay without syncs of the upper directory
	// (overlayfs "volatile"): faster, but the work directory cannot be
	// mounted again after a crash, and a crash may lose the step's writes.
	Volatile bool
}

// RunStep runs one process on an overlay of s.Lowers under s.Upper with
// the same spec as `strata run` (namespaces, capabilities, seccomp), waits
// for it, unmounts, and returns its exit status. The mount points strata
// adds (/etc/hosts, /etc/resolv.conf, /etc/hostname, /proc, /sys, /dev)
// live in a temporary layer, so Upper holds only what the process changed.
// Cancelling ctx kills the process.
func RunStep(ctx context.Context, s StepSpec) (exitCode int, err error) {
	if len(s.Args) == 0 {
		return -1, fmt.Errorf("run step: no command")
	}
	network := s.Network
	if network == "" {
		network = NetworkHost
	}
	bundle, err := os.MkdirTemp("", "strata-step-")
	if err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	defer os.RemoveAll(bundle)
	for _, d := range []string{"rootfs", "init"} {
		if err := os.Mkdir(filepath.Join(bundle, d), 0o755); err != nil {
			return -1, fmt.Errorf("run step: %w", err)
		}
	}
	if err := makeInitLayer(filepath.Join(bundle, "init")); err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	id := newID()
	hostname := id[:12]
	if err := writeEtcFiles(bundle, hostname, network); err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	user, err := ResolveUser(s.User, LayersReader(append([]string{s.Upper}, s.Lowers...)...))
	if err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	env := s.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{DefaultPath}, env...)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	spec, err := Spec(SpecConfig{
		ID:       id,
		Hostname: hostname,
		Root:     "rootfs",
		Args:     s.Args,
		Env:      env,
		WorkDir:  s.WorkDir,
		User:     user.User,
		Network:  network,
		Mounts:   append(etcMounts(bundle), s.Mounts...),
	})
	if err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	if err := writeJSON(filepath.Join(bundle, "config.json"), spec); err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	lowers := append([]string{filepath.Join(bundle, "init")}, s.Lowers...)
	if err := mountRootfs(lowers, s.Upper, s.Work, rootfs, s.Volatile); err != nil {
		return -1, fmt.Errorf("run step: %w", err)
	}
	defer snapshot.Unmount(rootfs)
	rt := ociRuntime{bin: s.Runtime, root: s.StateRoot}
	if rt.bin == "" {
		rt.bin = "runc"
	}
	if rt.root == "" {
		rt.root = "/run/strata/runc"
	}
	pidFile := filepath.Join(bundle, "pid")
	runcLog := filepath.Join(bundle, "runc.log")
	cmd := exec.Command(rt.bin, rt.runArgs(bundle, id, runcLog, pidFile, "", false)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("run step: %s: %w", rt.bin, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		// The process may not have started yet: kill it once it has.
		for {
			if pid := readPid(pidFile); pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
				return
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	if _, err := os.Stat(pidFile); err != nil {
		msg := runcError(runcLog)
		if msg == "" && werr != nil {
			msg = werr.Error()
		}
		return startError(msg).Code, fmt.Errorf("run step: %w", startError(msg))
	}
	if ctx.Err() != nil {
		return exitStatus(cmd.ProcessState), ctx.Err()
	}
	return exitStatus(cmd.ProcessState), nil
}
