// Package runtime runs containers: it turns an image's configuration into
// an OCI runtime spec as Docker would, mounts the image's read-only layers
// under a writable top layer with overlayfs, runs the process with runc,
// publishes ports by proxying TCP connections into the container's network
// namespace, and keeps each container's state, logs and writable layer on
// disk under one directory, so that any strata process can tell where a
// container stands without a daemon.
package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/snapshot"
)

// ErrNotFound is returned for a container name or ID that matches none.
var ErrNotFound = errors.New("no such container")

// Runtime keeps the containers of one store: containers/ID/ directories
// holding each container's bundle, state, logs and writable layer.
type Runtime struct {
	dir       string
	stateRoot string
}

type options struct {
	stateRoot string
}

// Option configures a Runtime.
type Option func(*options)

// WithStateRoot sets the directory the OCI runtime keeps its own state in
// (runc --root); the default, /run/strata/runc, is on tmpfs, so it is
// empty after a reboot just as the containers have stopped.
func WithStateRoot(dir string) Option { return func(o *options) { o.stateRoot = dir } }

// New opens (creating it if needed) the container directory dir.
func New(dir string, opts ...Option) (*Runtime, error) {
	o := options{stateRoot: "/run/strata/runc"}
	for _, f := range opts {
		f(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open containers: %w", err)
	}
	dir = abs // runc and overlayfs need absolute paths
	if err := os.MkdirAll(filepath.Join(dir, "names"), 0o711); err != nil {
		return nil, fmt.Errorf("open containers: %w", err)
	}
	return &Runtime{dir: dir, stateRoot: o.stateRoot}, nil
}

// Dir is the directory of container id.
func (r *Runtime) Dir(id string) string { return filepath.Join(r.dir, id) }

// LogPath is container id's log, JSON lines as Docker's json-file driver
// writes them.
func (r *Runtime) LogPath(id string) string { return filepath.Join(r.dir, id, id+"-json.log") }

// UpperDir is container id's writable layer.
func (r *Runtime) UpperDir(id string) string { return filepath.Join(r.dir, id, "upper") }

// CreateOptions describe a container to create: the image's configuration
// and what the user asked for on top of it.
type CreateOptions struct {
	// Name is the container's name; "" picks one.
	Name string
	// Image is the image as named, ImageID its config digest, ImageTarget
	// its manifest, Lowers its unpacked layers (topmost first).
	Image       string
	ImageID     string
	ImageTarget v1.Descriptor
	Lowers      []string
	// ImageConfig is the image's config (Entrypoint, Cmd, Env, WorkingDir,
	// User), the defaults for what follows.
	ImageConfig v1.Config
	// Entrypoint replaces the image's when set (--entrypoint); Cmd replaces
	// its command when non-empty.
	Entrypoint *string
	Cmd        []string
	// Env adds to and overrides the image's variables.
	Env []string
	// WorkDir and User override the image's when set.
	WorkDir string
	User    string
	// Network is NetworkPrivate (""), NetworkHost or NetworkNone.
	Network string
	Ports   []Port
	Mounts  []Mount
	Resources
	Tty, Stdin bool
	AutoRemove bool
	// Runtime is the OCI runtime binary, "runc" if empty.
	Runtime string
}

var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// Create makes a container: its directory, writable layer, bundle
// (config.json) and state, without starting it.
func (r *Runtime) Create(ctx context.Context, o CreateOptions) (*State, error) {
	if len(o.Lowers) == 0 {
		return nil, fmt.Errorf("image %s has no layers to run", o.Image)
	}
	id := newID()
	st := &State{
		ID:         id,
		Created:    time.Now().UTC(),
		Image:      o.Image,
		ImageID:    o.ImageID,
		Network:    o.Network,
		Ports:      o.Ports,
		Mounts:     o.Mounts,
		Resources:  o.Resources,
		AutoRemove: o.AutoRemove,
		Runtime:    o.Runtime,
		Lowers:     o.Lowers,
		Status:     Created,
	}
	if o.ImageTarget.Digest.Hex != "" {
		t := o.ImageTarget
		st.ImageTarget = &t
	}
	if st.Network == "" {
		st.Network = NetworkPrivate
	}
	if st.Runtime == "" {
		st.Runtime = "runc"
	}
	if st.Network != NetworkPrivate && len(st.Ports) > 0 {
		return nil, fmt.Errorf("published ports need the private network, not --network %s", st.Network)
	}
	ic := o.ImageConfig
	c := Config{
		Hostname:     id[:12],
		User:         ic.User,
		AttachStdout: true,
		AttachStderr: true,
		AttachStdin:  o.Stdin,
		OpenStdin:    o.Stdin,
		StdinOnce:    o.Stdin,
		Tty:          o.Tty,
		Env:          mergeEnv(ic.Env, o.Env),
		Cmd:          ic.Cmd,
		Image:        o.Image,
		WorkingDir:   ic.WorkingDir,
		Entrypoint:   ic.Entrypoint,
		Labels:       ic.Labels,
	}
	if st.Network == NetworkHost {
		c.Hostname, _ = os.Hostname()
	}
	if o.Entrypoint != nil {
		c.Entrypoint = nil
		if *o.Entrypoint != "" {
			c.Entrypoint = []string{*o.Entrypoint}
		}
		if len(o.Cmd) == 0 {
			c.Cmd = nil
		}
	}
	if len(o.Cmd) > 0 {
		c.Cmd = o.Cmd
	}
	if o.WorkDir != "" {
		c.WorkingDir = o.WorkDir
	}
	if o.User != "" {
		c.User = o.User
	}
	if len(st.Ports) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range st.Ports {
			c.ExposedPorts[fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)] = struct{}{}
		}
	}
	st.Config = c
	st.Args = append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(st.Args) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
		return nil, fmt.Errorf("the working directory %q is invalid: it needs to be an absolute path", c.WorkingDir)
	}
	user, err := ResolveUser(c.User, LayersReader(o.Lowers...))
	if err != nil {
		return nil, err
	}
	env := c.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{DefaultPath}, env...)
	}
	env = append(env, "HOSTNAME="+c.Hostname)
	if o.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	var mounts []specs.Mount
	for _, m := range o.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return nil, fmt.Errorf("invalid volume %s:%s: the container path must be absolute", m.Source, m.Destination)
		}
		if _, err := os.Stat(m.Source); err != nil {
			if !isNotExist(err) {
				return nil, fmt.Errorf("volume %s: %w", m.Source, err)
			}
			// Docker creates a missing host directory.
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, fmt.Errorf("volume %s: %w", m.Source, err)
			}
		}
		mounts = append(mounts, BindMount(m.Source, m.Destination, !m.RW))
	}

	if o.Name != "" && !namePattern().MatchString(o.Name) {
		return nil, fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	name, err := r.reserveName(o.Name, id)
	if err != nil {
		return nil, err
	}
	st.Name = name
	dir := r.Dir(id)
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
			os.Remove(filepath.Join(r.dir, "names", name))
		}
	}()
	if err := r.ensureInitLayer(); err != nil {
		return nil, err
	}
	for _, d := range []string{"", "upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create container: %w", err)
		}
	}
	if err := writeEtcFiles(dir, c.Hostname, st.Network); err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	spec, err := Spec(SpecConfig{
		ID:        id,
		Hostname:  c.Hostname,
		Root:      "rootfs",
		Args:      st.Args,
		Env:       env,
		WorkDir:   c.WorkingDir,
		User:      user.User,
		Terminal:  o.Tty,
		Network:   st.Network,
		Mounts:    append(etcMounts(dir), mounts...),
		Memory:    o.Memory,
		CPUs:      o.CPUs,
		PidsLimit: o.PidsLimit,
	})
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), spec); err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	if err := saveState(dir, st); err != nil {
		return nil, err
	}
	ok = true
	return st, nil
}

// ensureInitLayer makes (once, for every container) the init layer: the
// mount points strata adds (/etc/hosts, /etc/hostname, /etc/resolv.conf,
// /proc, /sys, /dev), mounted between the image's layers and the
// container's writable one so that they are not created in the writable
// layer, nor seen by diff or commit.
func (r *Runtime) ensureInitLayer() error {
	dst := r.initLayer()
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(r.dir, ".init-")
	if err != nil {
		return fmt.Errorf("create init layer: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := makeInitLayer(tmp); err != nil {
		return err
	}
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("create init layer: %w", err)
	}
	return nil
}

func (r *Runtime) initLayer() string { return filepath.Join(r.dir, ".init") }

// makeInitLayer fills dir with the init layer's mount points.
func makeInitLayer(dir string) error {
	for _, d := range []string{"etc", "proc", "sys", "dev"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create init layer: %w", err)
		}
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(dir, "etc", f), nil, 0o644); err != nil {
			return fmt.Errorf("create init layer: %w", err)
		}
	}
	return nil
}

// reserveName claims name (or a generated one) for id: names/NAME is a
// symbolic link to the ID, created exclusively.
func (r *Runtime) reserveName(name, id string) (string, error) {
	gen := name == ""
	for i := 0; ; i++ {
		if gen {
			name = randomName(i)
		}
		err := os.Symlink(id, filepath.Join(r.dir, "names", name))
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("reserve name %s: %w", name, err)
		}
		if !gen {
			if st, err := r.Lookup(context.Background(), name); err == nil {
				return "", fmt.Errorf("conflict: the container name \"/%s\" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", name, st.ID)
			}
			// A link left by a crash: take it over.
			os.Remove(filepath.Join(r.dir, "names", name))
			gen = false
			continue
		}
		if i > 20 {
			return "", fmt.Errorf("reserve name: %w", err)
		}
	}
}

// Lookup finds a container by name, full ID or unique ID prefix, and
// reconciles its state with what is running.
func (r *Runtime) Lookup(ctx context.Context, ref string) (*State, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, ref)
	}
	if id, err := os.Readlink(filepath.Join(r.dir, "names", strings.TrimPrefix(ref, "/"))); err == nil {
		if st, err := r.load(id); err == nil {
			return st, nil
		}
	}
	if isHex(ref) {
		ents, err := os.ReadDir(r.dir)
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		var match []string
		for _, e := range ents {
			if len(e.Name()) == 64 && strings.HasPrefix(e.Name(), ref) {
				match = append(match, e.Name())
			}
		}
		if len(match) > 1 {
			return nil, fmt.Errorf("multiple containers match the ID prefix %s", ref)
		}
		if len(match) == 1 {
			if st, err := r.load(match[0]); err == nil {
				return st, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// List returns every container, newest first, each reconciled.
func (r *Runtime) List(ctx context.Context) ([]*State, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []*State
	for _, e := range ents {
		if len(e.Name()) != 64 || !isHex(e.Name()) {
			continue
		}
		st, err := r.load(e.Name())
		if err != nil {
			continue // being created or removed
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// load reads a container's state and, if it claims to run but its
// monitor has gone (killed, or the machine rebooted), reconciles it.
func (r *Runtime) load(id string) (*State, error) {
	st, err := loadState(r.Dir(id))
	if err != nil {
		return nil, err
	}
	if st.Status == Running && !alive(st.MonitorPid, st.MonitorStart) {
		if err := r.reconcile(st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// reconcile records a container whose monitor died as exited, after
// killing what is left of it and unmounting its root filesystem.
func (r *Runtime) reconcile(st *State) error {
	unlock, err := r.lock(st.ID)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := loadState(r.Dir(st.ID))
	if err != nil {
		return err
	}
	*st = *cur
	if st.Status != Running || alive(st.MonitorPid, st.MonitorStart) {
		return nil
	}
	r.cleanup(st)
	st.Status = Exited
	st.ExitCode = 137
	st.Error = "the container's monitor exited"
	st.FinishedAt = time.Now().UTC()
	return saveState(r.Dir(st.ID), st)
}

// cleanup kills whatever is left of a container and unmounts its root
// filesystem. It is idempotent and quiet: parts already gone are fine.
func (r *Runtime) cleanup(st *State) {
	if alive(st.Pid, st.PidStart) {
		killProcess(st.Pid)
	}
	// runc keeps its record until deleted (gone after a clean exit, or a
	// reboot): only then is there something for `runc delete` to do.
	if _, err := os.Stat(filepath.Join(r.stateRoot, st.ID)); err == nil {
		_ = r.runc(st).delete(context.Background(), st.ID)
	}
	snapshot.Unmount(filepath.Join(r.Dir(st.ID), "rootfs"))
}

// lock takes container id's lock, serialising reconciliation and removal.
func (r *Runtime) lock(id string) (func(), error) {
	f := flock.New(filepath.Join(r.Dir(id), "lock"))
	if err := f.Lock(); err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id[:12], err)
	}
	return func() { f.Close() }, nil
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
}

// Remove deletes a container: kills it if forced, unmounts it, and
// removes its writable layer, logs and state. The image's layers stay.
func (r *Runtime) Remove(ctx context.Context, st *State, o RemoveOptions) error {
	if st.Running() {
		if !o.Force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", st.ShortID())
		}
		_ = r.Kill(ctx, st, 9)
		r.waitExit(ctx, st, 5*time.Second)
	}
	unlock, err := r.lock(st.ID)
	if err != nil {
		return err
	}
	defer unlock()
	r.cleanup(st)
	if id, err := os.Readlink(filepath.Join(r.dir, "names", st.Name)); err == nil && id == st.ID {
		os.Remove(filepath.Join(r.dir, "names", st.Name))
	}
	if err := os.RemoveAll(r.Dir(st.ID)); err != nil {
		return fmt.Errorf("remove container %s: %w", st.ShortID(), err)
	}
	return nil
}

// waitExit polls until the container is no longer running or timeout.
func (r *Runtime) waitExit(ctx context.Context, st *State, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		cur, err := r.load(st.ID)
		if err != nil {
			return true
		}
		*st = *cur
		if !st.Running() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ImageRoots lists the manifests of the images containers use, for
// image.Store.AddRoots: an image a container uses keeps its blobs.
func (r *Runtime) ImageRoots(ctx context.Context) ([]v1.Descriptor, error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []v1.Descriptor
	for _, st := range list {
		if st.ImageTarget != nil {
			out = append(out, *st.ImageTarget)
		}
	}
	return out, nil
}

// UsedBy lists the containers using the image with config digest imageID.
func (r *Runtime) UsedBy(ctx context.Context, imageID string) ([]*State, error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, st := range list {
		if st.ImageID == imageID {
			out = append(out, st)
		}
	}
	return out, nil
}

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// mergeEnv overrides and extends base with KEY=VALUE pairs from add; a bare
// KEY in add is dropped (the CLI resolves those from its environment).
func mergeEnv(base, add []string) []string {
	out := append([]string{}, base...)
	for _, kv := range add {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// SnapshotRoots lists the chain IDs of the snapshots containers mount, for
// snapshot.Store.Prune's keep: a container's layers stay unpacked while it
// exists.
func (r *Runtime) SnapshotRoots(ctx context.Context) ([]v1.Hash, error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []v1.Hash
	for _, st := range list {
		for _, l := range st.Lowers {
			if h, err := v1.NewHash("sha256:" + filepath.Base(l)); err == nil {
				out = append(out, h)
			}
		}
	}
	return out, nil
}
