package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/runtime"
)

// openRuntime opens the containers of the store at --root.
func (o *options) openRuntime() (*runtime.Runtime, error) {
	return runtime.New(filepath.Join(o.root, "containers"))
}

// openStoreWithContainers opens the image store with the images that
// containers use registered as roots, so that rmi and prune keep their
// blobs. rmi and prune should open the store with it.
func (o *options) openStoreWithContainers() (*image.Store, *runtime.Runtime, error) {
	s, err := o.openStore()
	if err != nil {
		return nil, nil, err
	}
	rt, err := o.openRuntime()
	if err != nil {
		return nil, nil, err
	}
	s.AddRoots(rt.ImageRoots)
	return s, rt, nil
}

// checkImageUnused fails, unless force, when a container uses the image
// name resolves to, as `docker rmi` does: "conflict: unable to remove
// repository reference ... container ... is using its referenced image".
// rmi calls it before image.Store.Remove.
func checkImageUnused(ctx context.Context, s *image.Store, rt *runtime.Runtime, name string, force bool) error {
	if force {
		return nil
	}
	img, err := s.Lookup(ctx, name)
	if err != nil {
		return nil // Remove reports it
	}
	users, err := rt.UsedBy(ctx, img.ID.String())
	if err != nil || len(users) == 0 {
		return err
	}
	return fmt.Errorf("conflict: unable to remove image %s (must force) - container %s is using its referenced image %s", name, users[0].ShortID(), img.ShortID())
}

// lookupContainer finds a container by name or ID, with Docker's message
// when there is none.
func lookupContainer(ctx context.Context, rt *runtime.Runtime, ref string) (*runtime.State, error) {
	st, err := rt.Lookup(ctx, ref)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, fmt.Errorf("no such container: %s", ref)
	}
	return st, err
}

// eachContainer runs fn for every container named, printing each name that
// succeeded (as Docker's stop, kill and rm do) and joining the errors.
func eachContainer(ctx context.Context, o *options, rt *runtime.Runtime, refs []string, fn func(st *runtime.State) error) error {
	var errs []error
	for _, ref := range refs {
		st, err := lookupContainer(ctx, rt, ref)
		if err == nil {
			err = fn(st)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(o.stdout, ref)
	}
	return errors.Join(errs...)
}

// parsePort reads -p's [IP:][HOST:]CONTAINER[/tcp].
func parsePort(s string) (runtime.Port, error) {
	p := runtime.Port{Proto: "tcp"}
	spec, proto, ok := strings.Cut(s, "/")
	if ok {
		p.Proto = proto
	}
	if p.Proto != "tcp" {
		return p, fmt.Errorf("invalid port %q: only tcp ports can be published", s)
	}
	var host, ctr string
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	default:
		if len(parts) > 3 && !strings.HasPrefix(spec, "[") {
			return p, fmt.Errorf("invalid port %q: write an IPv6 address in brackets", s)
		}
		i := strings.LastIndex(spec, ":")
		j := strings.LastIndex(spec[:i], ":")
		p.HostIP, host, ctr = strings.Trim(spec[:j], "[]"), spec[j+1:i], spec[i+1:]
	}
	var err error
	if p.ContainerPort, err = strconv.Atoi(ctr); err != nil || p.ContainerPort <= 0 || p.ContainerPort > 65535 {
		return p, fmt.Errorf("invalid port %q: invalid container port %q", s, ctr)
	}
	if host != "" {
		if p.HostPort, err = strconv.Atoi(host); err != nil || p.HostPort < 0 || p.HostPort > 65535 {
			return p, fmt.Errorf("invalid port %q: invalid host port %q", s, host)
		}
	}
	return p, nil
}

// parseVolume reads -v's HOST:CONTAINER[:ro|rw].
func parseVolume(s string) (runtime.Mount, error) {
	parts := strings.Split(s, ":")
	m := runtime.Mount{RW: true}
	switch len(parts) {
	case 3:
		switch parts[2] {
		case "ro":
			m.RW = false
		case "rw":
		default:
			return m, fmt.Errorf("invalid volume %q: unknown mode %q (want ro or rw)", s, parts[2])
		}
		fallthrough
	case 2:
		m.Source, m.Destination = parts[0], parts[1]
	default:
		return m, fmt.Errorf("invalid volume %q: want HOST:CONTAINER[:ro]", s)
	}
	if !filepath.IsAbs(m.Source) {
		return m, fmt.Errorf("invalid volume %q: the host path must be absolute (named volumes are not supported)", s)
	}
	if !filepath.IsAbs(m.Destination) {
		return m, fmt.Errorf("invalid volume %q: the container path must be absolute", s)
	}
	m.Source, m.Destination = filepath.Clean(m.Source), filepath.Clean(m.Destination)
	return m, nil
}

// parseEnv reads -e and --env-file values: KEY=VALUE as given, a bare KEY
// from strata's environment (dropped when unset), as Docker does.
func parseEnv(flags, files []string) ([]string, error) {
	var env []string
	add := func(kv string) {
		if strings.Contains(kv, "=") {
			env = append(env, kv)
		} else if v, ok := os.LookupEnv(kv); ok {
			env = append(env, kv+"="+v)
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			add(line)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("env file %s: %w", f, err)
		}
	}
	for _, kv := range flags {
		if strings.HasPrefix(kv, "=") || kv == "" {
			return nil, fmt.Errorf("invalid environment variable: %q", kv)
		}
		add(kv)
	}
	return env, nil
}

// containerInspect is Docker's container inspect document, in the parts
// strata has.
type containerInspect struct {
	ID      string `json:"Id"`
	Created string
	Path    string
	Args    []string
	State   struct {
		Status     string
		Running    bool
		Paused     bool
		Restarting bool
		OOMKilled  bool
		Dead       bool
		Pid        int
		ExitCode   int
		Error      string
		StartedAt  string
		FinishedAt string
	}
	Image          string
	ResolvConfPath string
	HostnamePath   string
	HostsPath      string
	LogPath        string
	Name           string
	Driver         string
	Platform       string
	HostConfig     containerHostConfig
	GraphDriver    struct {
		Name string
		Data map[string]string
	}
	Mounts          []containerMount
	Config          runtime.Config
	NetworkSettings struct {
		Ports map[string][]portBinding
	}
}

type containerHostConfig struct {
	NetworkMode  string
	AutoRemove   bool
	Runtime      string
	Memory       int64
	NanoCpus     int64
	PidsLimit    *int64
	PortBindings map[string][]portBinding
}

type containerMount struct {
	Type        string
	Source      string
	Destination string
	Mode        string
	RW          bool
	Propagation string
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// inspectContainerFallback inspects the container ref when no image has
// that name; with no container either, it returns the image's error.
func inspectContainerFallback(ctx context.Context, o *options, ref string, imageErr error) (any, error) {
	rt, err := o.openRuntime()
	if err != nil {
		return nil, imageErr
	}
	st, err := rt.Lookup(ctx, ref)
	if err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, imageErr
		}
		return nil, err
	}
	return newContainerInspect(rt, st), nil
}

func newContainerInspect(rt *runtime.Runtime, st *runtime.State) containerInspect {
	var d containerInspect
	dir := rt.Dir(st.ID)
	d.ID = st.ID
	d.Created = st.Created.Format(time.RFC3339Nano)
	if len(st.Args) > 0 {
		d.Path, d.Args = st.Args[0], append([]string{}, st.Args[1:]...)
	}
	d.State.Status = string(st.Status)
	d.State.Running = st.Running()
	d.State.OOMKilled = st.OOMKilled
	d.State.Pid = st.Pid
	d.State.ExitCode = st.ExitCode
	d.State.Error = st.Error
	d.State.StartedAt = dockerTime(st.StartedAt)
	d.State.FinishedAt = dockerTime(st.FinishedAt)
	d.Image = st.ImageID
	d.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	d.HostnamePath = filepath.Join(dir, "hostname")
	d.HostsPath = filepath.Join(dir, "hosts")
	d.LogPath = rt.LogPath(st.ID)
	d.Name = "/" + st.Name
	d.Driver = "overlay"
	d.Platform = "linux"
	d.GraphDriver.Name = "overlay2"
	d.GraphDriver.Data = map[string]string{
		"LowerDir":  strings.Join(st.Lowers, ":"),
		"UpperDir":  rt.UpperDir(st.ID),
		"WorkDir":   filepath.Join(dir, "work"),
		"MergedDir": filepath.Join(dir, "rootfs"),
	}
	d.Mounts = []containerMount{}
	for _, m := range st.Mounts {
		mode := "rw"
		if !m.RW {
			mode = "ro"
		}
		d.Mounts = append(d.Mounts, containerMount{Type: "bind", Source: m.Source, Destination: m.Destination, Mode: mode, RW: m.RW, Propagation: "rprivate"})
	}
	d.Config = st.Config
	d.HostConfig = containerHostConfig{
		NetworkMode: st.Network, AutoRemove: st.AutoRemove, Runtime: st.Runtime,
		Memory: st.Resources.Memory, NanoCpus: int64(st.Resources.CPUs * 1e9),
		PortBindings: map[string][]portBinding{},
	}
	if st.Resources.PidsLimit > 0 {
		p := st.Resources.PidsLimit
		d.HostConfig.PidsLimit = &p
	}
	d.NetworkSettings.Ports = map[string][]portBinding{}
	for _, p := range st.Ports {
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		b := portBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)}
		d.HostConfig.PortBindings[key] = append(d.HostConfig.PortBindings[key], b)
		if st.Running() {
			d.NetworkSettings.Ports[key] = append(d.NetworkSettings.Ports[key], b)
		}
	}
	return d
}

// dockerTime is a time as Docker's inspect writes it; the zero time is
// Docker's "0001-01-01T00:00:00Z".
func dockerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
