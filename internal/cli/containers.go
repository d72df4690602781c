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
