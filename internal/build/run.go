package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-ml/strata/internal/cache"
)

// Runner executes RUN steps in a container.
type Runner interface {
	// Run runs req.Args on the layers with a fresh writable layer on top,
	// and once the command has succeeded calls diff with that layer's
	// directory (an overlayfs upper directory) before discarding it.
	Run(ctx context.Context, req RunRequest, diff func(upper string) error) error
	// ResolveUser resolves a user[:group] spec against the /etc/passwd and
	// /etc/group of the image the layers make (COPY --chown=app:app).
	ResolveUser(ctx context.Context, layers []v1.Descriptor, diffIDs []v1.Hash, spec string) (uid, gid int, err error)
}

// RunRequest is one RUN step.
type RunRequest struct {
	Layers  []v1.Descriptor
	DiffIDs []v1.Hash
	Args    []string
	Env     []string
	WorkDir string
	User    string
	// Network is "host" (docker build's default) or "none".
	Network string
	Mounts  []Mount
	Output  io.Writer
}

// Mount is a RUN --mount: a host directory (a cache mount's store, a bind
// mount's source) or a tmpfs.
type Mount struct {
	Type     string // "bind" or "tmpfs"
	Source   string
	Target   string
	ReadOnly bool
}

func (b *builder) prepareRun(ctx context.Context, st *state, c *instructions.RunCommand, ex *execution) (*execution, error) {
	args, err := b.runArgs(st, c)
	if err != nil {
		return nil, err
	}
	argVals := st.argValues()
	env := append([]string(nil), st.config.Config.Env...)
	for _, k := range sortedArgNames(argVals) {
		if !st.hasEnv(k) {
			env = append(env, k+"="+argVals[k])
		}
	}
	network := "host"
	if instructions.GetNetwork(c) == instructions.NetworkNone {
		network = "none"
	}
	mounts, desc, err := b.runMounts(c)
	if err != nil {
		return nil, err
	}
	ex.inputs.Args = argVals
	ex.inputs.Extra = append([]string{"network=" + network, "args=" + mustJSON(args)}, desc...)
	layers := append([]v1.Descriptor(nil), st.layers...)
	diffIDs := append([]v1.Hash(nil), st.config.RootFS.DiffIDs...)
	workdir := st.config.Config.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	user := st.config.Config.User
	ex.run = func(ctx context.Context, rec *cache.Record) error {
		if b.opts.Runner == nil {
			return fmt.Errorf("RUN needs a container runtime, and none is available to this build")
		}
		req := RunRequest{Layers: layers, DiffIDs: diffIDs, Args: args, Env: env, WorkDir: workdir, User: user,
			Network: network, Mounts: mounts, Output: b.opts.Output}
		return b.opts.Runner.Run(ctx, req, func(upper string) error {
			desc, diffID, err := b.storeLayer(ctx, -1, func(w io.Writer) error {
				epoch := b.opts.Epoch
				_, _, err := writeDiff(ctx, upper, w, epoch)
				return err
			})
			if err != nil {
				return fmt.Errorf("RUN: store its layer: %w", err)
			}
			rec.Layer, rec.DiffID = &desc, &diffID
			return nil
		})
	}
	return ex, nil
}

// runArgs is the command a RUN executes.
func (b *builder) runArgs(st *state, c *instructions.RunCommand) ([]string, error) {
	if len(c.Files) > 0 {
		// RUN <<EOF ... EOF: the heredoc is the script.
		if len(c.Files) == 1 && strings.HasPrefix(strings.TrimSpace(strings.Join(c.CmdLine, " ")), "<<") {
			script := c.Files[0].Data
			if c.Files[0].Chomp { // <<-EOF: leading tabs go
				lines := strings.Split(script, "\n")
				for i, l := range lines {
					lines[i] = strings.TrimLeft(l, "\t")
				}
				script = strings.Join(lines, "\n")
			}
			return b.withShell(st, instructions.ShellDependantCmdLine{CmdLine: []string{script}, PrependShell: true}), nil
		}
		return nil, fmt.Errorf("RUN with a heredoc passed to a command is not supported; make the heredoc the whole command")
	}
	return b.withShell(st, c.ShellDependantCmdLine), nil
}

// runMounts turns RUN --mount flags into host mounts, and describes them
// for the cache key.
func (b *builder) runMounts(c *instructions.RunCommand) ([]Mount, []string, error) {
	var out []Mount
	var desc []string
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		switch m.Type {
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			dir, err := b.cacheMountDir(id)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, Mount{Type: "bind", Source: dir, Target: target})
			desc = append(desc, "cache="+id+":"+target)
		case instructions.MountTypeTmpfs:
			out = append(out, Mount{Type: "tmpfs", Target: target})
			desc = append(desc, "tmpfs="+target)
		case instructions.MountTypeBind:
			if m.From != "" {
				return nil, nil, fmt.Errorf("RUN --mount=type=bind,from=%s is not supported (bind from the build context only)", m.From)
			}
			if b.opts.Context.Dir == "" {
				return nil, nil, fmt.Errorf("RUN --mount=type=bind needs a build context")
			}
			src := filepath.Join(b.opts.Context.Dir, filepath.Clean("/"+m.Source))
			out = append(out, Mount{Type: "bind", Source: src, Target: target, ReadOnly: m.ReadOnly})
			// The bound files are inputs: digest them like COPY does.
			files := map[string]string{}
			rel := strings.TrimPrefix(filepath.Clean("/"+m.Source), "/")
			if rel == "" {
				rel = "."
			}
			for _, f := range b.opts.Context.Under(rel) {
				d, err := f.Digest()
				if err != nil {
					return nil, nil, err
				}
				files[f.Path] = d
			}
			desc = append(desc, "bind="+rel+":"+target+":"+mustJSON(files))
		}
	}
	return out, desc, nil
}

// cacheMountDir is where a cache mount's files persist between builds.
func (b *builder) cacheMountDir(id string) (string, error) {
	root := b.s.Root()
	if root == "" {
		return "", fmt.Errorf("cache mounts need a store on disk")
	}
	sum := cache.Inputs{Instruction: id}.Key()
	dir := filepath.Join(root, "buildcache", "mounts", strings.TrimPrefix(string(sum), "sha256:")[:16])
	return dir, os.MkdirAll(dir, 0o755)
}

func sortedArgNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
