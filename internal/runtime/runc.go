package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ociRuntime runs one OCI runtime binary (runc, or crun, which takes the
// same arguments) with strata's state root.
type ociRuntime struct {
	bin  string
	root string
}

func (r *Runtime) runc(st *State) ociRuntime {
	bin := st.Runtime
	if bin == "" {
		bin = "runc"
	}
	return ociRuntime{bin: bin, root: r.stateRoot}
}

func (o ociRuntime) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, o.bin, append([]string{"--root", o.root}, args...)...)
}

// runArgs are the arguments of `runc run` for a bundle; logFile receives
// runc's own errors as JSON lines.
func (o ociRuntime) runArgs(bundle, id, logFile, pidFile, consoleSocket string, keep bool) []string {
	args := []string{"--root", o.root, "--log", logFile, "--log-format", "json", "run", "--bundle", bundle, "--pid-file", pidFile}
	if consoleSocket != "" {
		args = append(args, "--console-socket", consoleSocket)
	}
	if keep {
		args = append(args, "--keep")
	}
	return append(args, id)
}

// delete removes the runtime's record of a container, killing it if it
// still runs.
func (o ociRuntime) delete(ctx context.Context, id string) error {
	cmd := o.command(ctx, "delete", "--force", id)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "not exist") {
			return nil
		}
		return fmt.Errorf("%s delete %s: %v: %s", o.bin, id[:12], err, msg)
	}
	return nil
}

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Args    []string
	Env     []string
	WorkDir string
	User    string
	Tty     bool
	// Detach starts the process and returns at once.
	Detach bool
}

// Exec is a process to run in a running container with `runc exec`.
type Exec struct {
	// Cmd runs runc; set its Stdin, Stdout and Stderr before Run. With
	// Tty, runc itself gives the process a terminal and relays it.
	Cmd *exec.Cmd
	dir string // runc's log and pid file
}

// ExecCommand prepares a process to run in the container.
func (r *Runtime) ExecCommand(ctx context.Context, st *State, o ExecOptions) (*Exec, error) {
	if !st.Running() {
		return nil, fmt.Errorf("container %s is not running", st.ShortID())
	}
	if len(o.Args) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	dir, err := os.MkdirTemp("", "strata-exec-")
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	args := []string{"--root", r.stateRoot, "--log", filepath.Join(dir, "log"), "--log-format", "json",
		"exec", "--pid-file", filepath.Join(dir, "pid")}
	if o.Tty {
		args = append(args, "--tty")
	}
	if o.Detach {
		args = append(args, "--detach")
	}
	for _, e := range o.Env {
		args = append(args, "--env", e)
	}
	if o.WorkDir != "" {
		args = append(args, "--cwd", o.WorkDir)
	}
	if o.User != "" {
		u, err := ResolveUser(o.User, LayersReader(append([]string{r.UpperDir(st.ID)}, st.Lowers...)...))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		args = append(args, "--user", fmt.Sprintf("%d:%d", u.UID, u.GID))
		for _, g := range u.AdditionalGids {
			args = append(args, "--additional-gids", fmt.Sprint(g))
		}
	}
	args = append(args, st.ID)
	args = append(args, o.Args...)
	return &Exec{Cmd: exec.Command(r.runc(st).bin, args...), dir: dir}, nil
}

// Run runs the process and returns its exit status; a process that could
// not start is a *StartError (126: not executable, 127: not found).
func (x *Exec) Run() (int, error) {
	defer os.RemoveAll(x.dir)
	err := x.Cmd.Run()
	if _, serr := os.Stat(filepath.Join(x.dir, "pid")); serr != nil {
		msg := runcError(filepath.Join(x.dir, "log"))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		se := startError(strings.TrimPrefix(msg, "exec failed: "))
		return se.Code, se
	}
	if err != nil && x.Cmd.ProcessState == nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	return exitStatus(x.Cmd.ProcessState), nil
}

// runcError is the last error runc logged (its --log file, JSON lines),
// cleaned up for a user: "exec: "nope": executable file not found in
// $PATH".
func runcError(logFile string) string {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return ""
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && (l.Level == "error" || l.Level == "fatal") {
			last = l.Msg
		}
	}
	for _, p := range []string{"runc run failed: ", "exec failed: ", "runc create failed: ", "unable to start container process: ", "error during container init: "} {
		if i := strings.LastIndex(last, p); i >= 0 {
			last = last[i+len(p):]
		}
	}
	return last
}

// StartError is a container that could not start; Code is the exit status
// Docker gives (126: cannot run the command, 127: command not found, 125:
// anything else).
type StartError struct {
	Msg  string
	Code int
}

// Error is the runtime's reason, as Docker prints it.
func (e *StartError) Error() string { return e.Msg }

func startError(msg string) *StartError {
	code := 125
	switch {
	case strings.Contains(msg, "not found") || strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, "permission denied"):
		code = 126
	}
	if msg == "" {
		msg = "the container failed to start"
	}
	return &StartError{Msg: msg, Code: code}
}

// killProcess sends SIGKILL to pid, ignoring a process already gone.
func killProcess(pid int) {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return
	}
}

// writeJSON writes v to path (a fresh file, no fsync: a bundle is
// rewritten whenever it matters).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// exitStatus is a finished command's status as a shell reports it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

var _ = filepath.Join
