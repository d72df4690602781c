package runtime

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/snapshot"
)

// RunOptions connect a container's process to its caller.
type RunOptions struct {
	// Stdin is the process's standard input (-i); nil gives it /dev/null.
	Stdin *os.File
	// Stdout and Stderr receive the output as it comes, besides the log;
	// nil for a detached container.
	Stdout, Stderr io.Writer
	// Terminal is the caller's terminal for a foreground -t run: runc
	// relays it itself, and nothing is logged.
	Terminal *os.File
	// Listeners are the host side of the published ports, in the order
	// of the state's Ports (from Listen).
	Listeners []net.Listener
	// Started is called once the process runs.
	Started func(st *State)
	// Signals are forwarded to the container's process; SIGINT and SIGTERM
	// also stop it: SIGKILL follows after StopTimeout (default 10s), or at
	// once on a second one.
	Signals     <-chan os.Signal
	StopTimeout time.Duration
}

// Run runs a created container to its end, supervising it as Docker's shim
// does: it mounts the root filesystem (the image's layers under the
// writable one), runs the OCI runtime, logs the output, publishes the
// ports, records the state as it changes and finally the exit code and
// time, and unmounts. It returns the process's exit status; a container
// that could not start is a *StartError.
func (r *Runtime) Run(ctx context.Context, st *State, o RunOptions) (code int, err error) {
	dir := r.Dir(st.ID)
	rootfs := filepath.Join(dir, "rootfs")
	if err := r.ensureInitLayer(); err != nil {
		return -1, err
	}
	lowers := append([]string{r.initLayer()}, st.Lowers...)
	if err := mountRootfs(lowers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs, st.AutoRemove); err != nil {
		return -1, err
	}
	mounted := true
	defer func() {
		if mounted {
			snapshot.Unmount(rootfs)
		}
	}()
	pidFile := filepath.Join(dir, "pid")
	runcLog := filepath.Join(dir, "runc.log")
	os.Remove(pidFile)
	os.Remove(runcLog)
	rt := r.runc(st)
	keep := st.Resources.Memory > 0 // to read the OOM count before deletion
	cmd := exec.Command(rt.bin, rt.runArgs(dir, st.ID, runcLog, pidFile, "", keep)...)

	var log *logFile
	var copies sync.WaitGroup
	var readers []*os.File
	var errGate *gate
	if o.Terminal != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Terminal, o.Terminal, o.Terminal
	} else if st.Config.Tty {
		// Detached with a terminal: runc relays a pty of ours, whose
		// output is the container's log.
		master, slave, err := openPty()
		if err != nil {
			return -1, err
		}
		if log, err = openLog(r.LogPath(st.ID)); err != nil {
			master.Close()
			slave.Close()
			return -1, err
		}
		defer log.Close()
		defer slave.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		readers = append(readers, master)
		copies.Add(1)
		go func() {
			defer copies.Done()
			copyStream(master, "stdout", log, o.Stdout, nil)
		}()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	} else {
		if log, err = openLog(r.LogPath(st.ID)); err != nil {
			return -1, err
		}
		defer log.Close()
		if o.Stdin != nil {
			cmd.Stdin = o.Stdin
		}
		errGate = newGate()
		for _, s := range []struct {
			name string
			tee  io.Writer
			dst  *io.Writer
			gate *gate
		}{{"stdout", o.Stdout, &cmd.Stdout, nil}, {"stderr", o.Stderr, &cmd.Stderr, errGate}} {
			pr, pw, err := os.Pipe()
			if err != nil {
				return -1, fmt.Errorf("run container: %w", err)
			}
			defer pw.Close()
			*s.dst = pw
			readers = append(readers, pr)
			copies.Add(1)
			go func(name string, tee io.Writer, g *gate) {
				defer copies.Done()
				copyStream(pr, name, log, tee, g)
			}(s.name, s.tee, s.gate)
		}
		// Keep terminal signals (Ctrl-C) for us to forward.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	// The pid file appears once the process runs: watched with inotify
	// (polled, slowly, should inotify fail).
	var pollc <-chan time.Time
	var appeared <-chan struct{}
	if w, err := watchFile(dir, "pid"); err == nil {
		defer w.close()
		appeared = w.C
	} else {
		poll := time.NewTicker(5 * time.Millisecond)
		defer poll.Stop()
		pollc = poll.C
	}
	st.MonitorPid = os.Getpid()
	st.MonitorStart = procStart(st.MonitorPid)
	if err := cmd.Start(); err != nil {
		closeFiles(readers)
		return -1, fmt.Errorf("run container: %s: %w", rt.bin, err)
	}
	if w, ok := cmd.Stdout.(*os.File); ok && o.Terminal == nil {
		w.Close() // the pipe's or pty's end now belongs to runc
		cmd.Stderr.(*os.File).Close()
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()

	started := false
	var px *proxy
	var stopTimer <-chan time.Time
	var pending []syscall.Signal
	stops := 0
	start := func() {
		started = true
		if errGate != nil {
			close(errGate.open)
		}
		st.Pid = readPid(pidFile)
		st.PidStart = procStart(st.Pid)
		st.Status = Running
		st.StartedAt = time.Now().UTC()
		if err := saveState(dir, st); err != nil {
			fmt.Fprintln(os.Stderr, "strata:", err)
		}
		if len(o.Listeners) > 0 && st.Pid > 0 {
			p, err := startProxy("/proc/"+strconv.Itoa(st.Pid)+"/ns/net", o.Listeners, st.Ports)
			if err != nil {
				fmt.Fprintln(os.Stderr, "strata: publish ports:", err)
			} else {
				px = p
			}
		}
		if o.Started != nil {
			o.Started(st)
		}
		for _, s := range pending {
			if st.Pid > 0 {
				_ = unix.Kill(st.Pid, s)
			}
		}
	}
	var werr error
wait:
	for {
		select {
		case werr = <-waitc:
			break wait
		case <-appeared:
			appeared = nil
			start()
		case <-pollc:
			if _, err := os.Stat(pidFile); err == nil && !started {
				start()
				pollc = nil
			}
		case sig := <-o.Signals:
			s, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			if !started {
				// Delivered once the process runs.
				pending = append(pending, s)
				continue
			}
			if s == syscall.SIGINT || s == syscall.SIGTERM {
				stops++
				if stops > 1 {
					s = syscall.SIGKILL
				} else if stopTimer == nil {
					t := o.StopTimeout
					if t <= 0 {
						t = 10 * time.Second
					}
					stopTimer = time.After(t)
				}
			}
			if st.Pid > 0 {
				_ = unix.Kill(st.Pid, s)
			}
		case <-stopTimer:
			if st.Pid > 0 {
				_ = unix.Kill(st.Pid, unix.SIGKILL)
			}
		}
	}
	if !started {
		if _, err := os.Stat(pidFile); err == nil {
			start()
		}
	}
	if !started && errGate != nil {
		close(errGate.drop)
	}
	if px != nil {
		px.close()
	} else {
		closeAll(o.Listeners)
	}
	waitCopies(&copies, readers)
	closeFiles(readers)
	code = -1
	if cmd.ProcessState != nil {
		code = exitStatus(cmd.ProcessState)
	}
	if keep {
		st.OOMKilled = oomKilled(st.ID)
		_ = rt.delete(context.WithoutCancel(ctx), st.ID)
	}
	snapshot.Unmount(rootfs)
	mounted = false
	st.Pid, st.PidStart = 0, 0
	st.FinishedAt = time.Now().UTC()
	if !started {
		msg := runcError(runcLog)
		if msg == "" && werr != nil {
			msg = fmt.Sprintf("%s: %v", rt.bin, werr)
		}
		serr := startError(msg)
		st.ExitCode, st.Error = serr.Code, serr.Msg
		st.Status = Created
		st.MonitorPid, st.MonitorStart = 0, 0
		if err := saveState(dir, st); err != nil {
			return -1, err
		}
		return serr.Code, serr
	}
	st.Status = Exited
	st.ExitCode = code
	if err := saveState(dir, st); err != nil {
		return code, err
	}
	return code, nil
}

// waitCopies waits for the output to be copied: until every process
// holding the pipes has exited, or a moment after the container did.
func waitCopies(wg *sync.WaitGroup, readers []*os.File) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		closeFiles(readers)
		<-done
	}
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// oomKilled reads the OOM kill count of the container's memory cgroup
// (cgroup v1's memory.oom_control, or v2's memory.events).
func oomKilled(id string) bool {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/strata/" + id + "/memory.oom_control",
		"/sys/fs/cgroup/strata/" + id + "/memory.events",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
				return f[1] != "0"
			}
		}
	}
	return false
}
