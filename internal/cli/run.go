package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/runtime"
	"github.com/strata-ml/strata/internal/snapshot"
)

// runFlags are `strata run`'s options.
type runFlags struct {
	detach, rm, interactive, tty bool
	name, workdir, user          string
	entrypoint, network, runtime string
	memory                       string
	cpus                         float64
	pidsLimit                    int64
	publish, env, envFiles, vols []string
}

func newRunCmd(o *options) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Long: `Run a command in a new container: the image's layers, read-only, under a
writable layer of the container's own, in its own namespaces with Docker's
default capabilities and seccomp profile, run by runc. The container gets
a private network with loopback; -p publishes a host port by proxying its
connections to the container's port.`,
		Example: `  strata run --rm busybox echo hi
  strata run -d -p 5000:5000 --name app ml-flask-app
  strata run -it busybox sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainer(cmd.Context(), o, cmd, f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.StringVar(&f.name, "name", "", "assign a name to the container")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port to the host: [IP:]HOST:CONTAINER[/tcp]")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read in a file of environment variables")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fl.StringVar(&f.network, "network", "private", "network: private (loopback, published ports), host or none")
	fl.StringArrayVarP(&f.vols, "volume", "v", nil, "bind mount a host path: HOST:CONTAINER[:ro]")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m, 1g)")
	fl.Float64Var(&f.cpus, "cpus", 0, "number of CPUs")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune the container's pids limit")
	fl.StringVar(&f.runtime, "runtime", "runc", "OCI runtime to run the container with (runc or crun)")
	return cmd
}

func runContainer(ctx context.Context, o *options, cmd *cobra.Command, f runFlags, ref string, cmdArgs []string) error {
	copts := runtime.CreateOptions{
		Name: f.name, Image: ref, Cmd: cmdArgs, WorkDir: f.workdir, User: f.user,
		Tty: f.tty, Stdin: f.interactive, AutoRemove: f.rm, Runtime: f.runtime,
	}
	if cmd.Flags().Changed("entrypoint") {
		copts.Entrypoint = &f.entrypoint
	}
	switch f.network {
	case "private", "bridge", "default", "":
		copts.Network = runtime.NetworkPrivate
	case "host", "none":
		copts.Network = f.network
	default:
		return fmt.Errorf("unknown network %q: strata has private (the default), host and none", f.network)
	}
	for _, p := range f.publish {
		port, err := parsePort(p)
		if err != nil {
			return err
		}
		copts.Ports = append(copts.Ports, port)
	}
	if len(copts.Ports) > 0 && copts.Network != runtime.NetworkPrivate {
		return fmt.Errorf("published ports need the private network: --network %s shares no ports", copts.Network)
	}
	for _, v := range f.vols {
		m, err := parseVolume(v)
		if err != nil {
			return err
		}
		copts.Mounts = append(copts.Mounts, m)
	}
	env, err := parseEnv(f.env, f.envFiles)
	if err != nil {
		return err
	}
	copts.Env = env
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid --memory %q: want a size such as 64m", f.memory)
		}
		if n < 6*1024*1024 {
			return fmt.Errorf("minimum memory limit allowed is 6MB")
		}
		copts.Memory = n
	}
	if f.cpus < 0 {
		return fmt.Errorf("invalid --cpus %v", f.cpus)
	}
	copts.CPUs, copts.PidsLimit = f.cpus, f.pidsLimit
	if f.runtime != "runc" && f.runtime != "crun" && !strings.Contains(f.runtime, "/") {
		return fmt.Errorf("unknown runtime %q: use runc or crun", f.runtime)
	}
	if os.Geteuid() != 0 {
		return errors.New("strata run needs root: runc runs containers as root (rootless containers are not supported)")
	}
	if _, err := exec.LookPath(f.runtime); err != nil {
		return fmt.Errorf("runtime %s is not installed: %w", f.runtime, err)
	}
	var termFile *os.File
	if f.tty && !f.detach {
		// On a terminal runc relays it; without one, -t alone still gives
		// the container a pseudo-terminal (strata's), as Docker does.
		if in, ok := o.stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
			termFile = in
		} else if f.interactive {
			return errors.New("the input device is not a TTY")
		}
	}

	s, err := o.openStore()
	if err != nil {
		return err
	}
	rt, err := o.openRuntime()
	if err != nil {
		return err
	}
	img, err := s.Lookup(ctx, ref)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return fmt.Errorf("unable to find image '%s' locally (strata import or load it first)", ref)
		}
		return err
	}
	cf, _, err := s.ConfigFile(ctx, img)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	lowers, err := prepareLowers(ctx, o, s, img, cf.RootFS.DiffIDs)
	if err != nil {
		return err
	}
	copts.ImageID, copts.ImageTarget, copts.Lowers, copts.ImageConfig = img.ID.String(), img.Target, lowers, cf.Config

	listeners, ports, err := runtime.Listen(copts.Ports)
	if err != nil {
		return err
	}
	copts.Ports = ports
	st, err := rt.Create(ctx, copts)
	if err != nil {
		closeListeners(listeners)
		return err
	}
	if f.detach {
		return startMonitor(ctx, o, rt, st, listeners)
	}

	signal.Ignore(syscall.SIGPIPE) // strata | head: the container runs on, logged
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	ro := runtime.RunOptions{Stdout: o.stdout, Stderr: o.stderr, Listeners: listeners, Signals: sigs, Terminal: termFile}
	if f.interactive && termFile == nil {
		if in, ok := o.stdin.(*os.File); ok {
			ro.Stdin = in
		}
	}
	code, err := rt.Run(context.WithoutCancel(ctx), st, ro)
	if f.rm {
		if rerr := rt.Remove(context.WithoutCancel(ctx), st, runtime.RemoveOptions{Force: true}); rerr != nil && err == nil {
			err = rerr
		}
	}
	var serr *runtime.StartError
	if errors.As(err, &serr) {
		fmt.Fprintf(o.stderr, "Error: %s\n", serr.Msg)
		return ExitError{Code: serr.Code}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return ExitError{Code: code}
	}
	return nil
}

// prepareLowers unpacks the image's layers (once per chain ID) and returns
// their directories, topmost first.
func prepareLowers(ctx context.Context, o *options, s *image.Store, img image.Image, diffIDs []v1.Hash) ([]string, error) {
	root, err := filepath.Abs(o.root) // overlayfs needs absolute layer paths
	if err != nil {
		return nil, err
	}
	ss, err := snapshot.Open(root)
	if err != nil {
		return nil, err
	}
	done, err := s.Use(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	lowers, err := ss.PrepareLayers(ctx, s.Content(), img.Manifest.Layers, diffIDs)
	if ss.Unpacked() > 0 {
		flushLater(o)
	}
	return lowers, err
}

func closeListeners(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// monitorStatus is what the monitor tells `run -d` once the container has
// started or failed to.
type monitorStatus struct {
	Error string `json:",omitempty"`
	Code  int    `json:",omitempty"`
}

// startMonitor starts `strata monitor ID` in its own session, handing it
// the listeners of the published ports, and waits until it reports the
// container started; then it prints the ID, as `docker run -d` does.
func startMonitor(ctx context.Context, o *options, rt *runtime.Runtime, st *runtime.State, listeners []net.Listener) error {
	defer closeListeners(listeners)
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	defer pr.Close()
	files := []*os.File{pw}
	for _, l := range listeners {
		lf, err := l.(*net.TCPListener).File()
		if err != nil {
			pw.Close()
			return fmt.Errorf("start monitor: %w", err)
		}
		defer lf.Close()
		files = append(files, lf)
	}
	closeOnExec() // the monitor inherits nothing but its ExtraFiles
	m := exec.Command(self, "--root", o.root, "monitor", st.ID)
	m.ExtraFiles = files
	m.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	m.Env = os.Environ()
	if err := m.Start(); err != nil {
		pw.Close()
		rt.Remove(ctx, st, runtime.RemoveOptions{Force: true})
		return fmt.Errorf("start monitor: %w", err)
	}
	pw.Close()
	go m.Wait() // reaped if the monitor ends while we wait
	var ms monitorStatus
	if err := json.NewDecoder(pr).Decode(&ms); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("container %s: its monitor exited before the container started", st.ShortID())
		}
		return fmt.Errorf("container %s: monitor: %w", st.ShortID(), err)
	}
	if ms.Error != "" {
		fmt.Fprintf(o.stderr, "Error: %s\n", ms.Error)
		return ExitError{Code: ms.Code}
	}
	fmt.Fprintln(o.stdout, st.ID)
	return nil
}
