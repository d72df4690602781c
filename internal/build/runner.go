package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/runtime"
	"github.com/strata-ml/strata/internal/snapshot"
)

// ociRunner runs RUN steps with runc on the store's snapshots: the step's
// layers unpacked once (shared with containers), a fresh upper directory
// on top, the same code path as strata run.
type ociRunner struct {
	s     *image.Store
	snaps *snapshot.Store
}

// NewRunner returns the Runner that executes RUN steps on runc.
func NewRunner(s *image.Store) (Runner, error) {
	snaps, err := snapshot.Open(s.Root())
	if err != nil {
		return nil, err
	}
	return &ociRunner{s: s, snaps: snaps}, nil
}

func (r *ociRunner) Run(ctx context.Context, req RunRequest, diff func(upper string) error) error {
	lowers, err := r.snaps.PrepareLayers(ctx, r.s.Content(), req.Layers, req.DiffIDs)
	if err != nil {
		return err
	}
	tmp := filepath.Join(r.s.Root(), "buildcache", "run")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(tmp, "step-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	// A WORKDIR the image lacks is created, as docker build does.
	if wd := filepath.Clean("/" + req.WorkDir); wd != "/" && !inAny(lowers, wd) {
		if err := os.MkdirAll(filepath.Join(upper, wd), 0o755); err != nil {
			return err
		}
	}
	var mounts []specs.Mount
	for _, m := range req.Mounts {
		switch m.Type {
		case "tmpfs":
			mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
		default:
			opts := []string{"rbind", "rw"}
			if m.ReadOnly {
				opts[1] = "ro"
			}
			mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts})
		}
	}
	network := runtime.NetworkHost
	if req.Network == "none" {
		network = runtime.NetworkNone
	}
	code, err := runtime.RunStep(ctx, runtime.StepSpec{
		Lowers: lowers, Upper: upper, Work: work,
		Args: req.Args, Env: req.Env, WorkDir: req.WorkDir, User: req.User,
		Network: network, Mounts: mounts, Stdout: req.Output, Stderr: req.Output,
		// The upper directory is read once, then deleted: no need to sync it.
		Volatile: true,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("process %q did not complete successfully: exit code: %d", strings.Join(req.Args, " "), code)
	}
	return diff(upper)
}

func inAny(dirs []string, p string) bool {
	for _, d := range dirs {
		if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
			return true
		}
	}
	return false
}

func (r *ociRunner) ResolveUser(ctx context.Context, layers []v1.Descriptor, diffIDs []v1.Hash, spec string) (int, int, error) {
	lowers, err := r.snaps.PrepareLayers(ctx, r.s.Content(), layers, diffIDs)
	if err != nil {
		return 0, 0, err
	}
	u, err := runtime.ResolveUser(spec, runtime.LayersReader(lowers...))
	if err != nil {
		return 0, 0, err
	}
	return int(u.UID), int(u.GID), nil
}
