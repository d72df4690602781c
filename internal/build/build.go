// Package build executes Dockerfiles: each RUN, COPY and ADD makes one
// layer, every other instruction changes only the image config, and every
// step is looked up in the build cache first, with an explanation of why
// it ran when it was not found.
package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-ml/strata/internal/buildctx"
	"github.com/strata-ml/strata/internal/cache"
	"github.com/strata-ml/strata/internal/dockerfile"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
)

// Options describe one build.
type Options struct {
	// Context is the build context; buildctx.Empty() for none.
	Context *buildctx.Context
	// Dockerfile is the parsed Dockerfile; DockerfilePath is where it was
	// read from, to tell builds apart in the cache's explanations.
	Dockerfile     *dockerfile.Dockerfile
	DockerfilePath string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build; the last one if empty.
	Target string
	// NoCache rebuilds every step.
	NoCache bool
	// Labels are added to the image config.
	Labels map[string]string
	// Compression of new layers: layer.Gzip (default) or layer.Zstd.
	Compression layer.Compression
	// Epoch is the time stamped on layer contents, history and config
	// (SOURCE_DATE_EPOCH; the Unix epoch when zero), so builds reproduce.
	Epoch time.Time
	// Progress receives the build's events; nil for none.
	Progress func(Event)
	// Runner executes RUN steps; nil refuses them.
	Runner Runner
	// Output receives RUN steps' output.
	Output io.Writer
	// Pull, if set, fetches a base image into the store before a FROM
	// uses it (--pull).
	Pull func(ctx context.Context, name string) error
}

// Event reports a step's progress.
type Event struct {
	// Step and Total number the step among all steps of the build.
	Step, Total int
	// Stage names the stage ("" for an unnamed one).
	Stage string
	// Instruction is the step as written (after expansion).
	Instruction string
	// Status is "start", "cached", "done" or "error".
	Status string
	// Reason says, when a step ran, why it was not taken from the cache.
	Reason string `json:",omitempty"`
	// Duration is how long a finished step took.
	Duration time.Duration `json:",omitempty"`
	// Error is set for Status "error".
	Error string `json:",omitempty"`
}

// Result is a built image.
type Result struct {
	// Target describes the manifest.
	Target v1.Descriptor
	// ID is the image ID (the config's digest).
	ID v1.Hash
	// Cached and Built count the steps taken from the cache and run.
	Cached, Built int
}

// Build runs the build and writes the image into s; the caller tags it
// and holds the store (image.Store.Use).
func Build(ctx context.Context, s *image.Store, c *cache.Cache, opts Options) (*Result, error) {
	df := opts.Dockerfile
	if opts.Context == nil {
		opts.Context = buildctx.Empty()
	}
	if opts.Compression == "" {
		opts.Compression = layer.Gzip
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Unix(0, 0).UTC()
	}
	if opts.Progress == nil {
		opts.Progress = func(Event) {}
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	target := &df.Stages[len(df.Stages)-1]
	if opts.Target != "" {
		st, ok := df.StageByName(opts.Target)
		if !ok {
			return nil, fmt.Errorf("%s: target stage %q not found", df.Name, opts.Target)
		}
		target = st
	}
	b := &builder{s: s, cache: c, opts: opts, df: df, done: map[int]*state{}}
	if err := b.metaArgs(); err != nil {
		return nil, err
	}
	order, err := b.stagesFor(target)
	if err != nil {
		return nil, err
	}
	for _, st := range order {
		b.total += 1 + len(st.Commands)
	}
	var last *state
	for _, st := range order {
		if last, err = b.buildStage(ctx, st); err != nil {
			return nil, err
		}
		b.done[st.Index] = last
	}
	desc, id, err := b.writeImage(ctx, last)
	if err != nil {
		return nil, err
	}
	return &Result{Target: desc, ID: id, Cached: b.cached, Built: b.built}, nil
}

// builder is one build in progress.
type builder struct {
	s     *image.Store
	cache *cache.Cache
	opts  Options
	df    *dockerfile.Dockerfile

	metaEnv map[string]string // ARGs before FROM, resolved
	done    map[int]*state    // finished stages by index
	step    int
	total   int
	cached  int
	built   int
}

// metaArgs resolves the ARGs before the first FROM.
func (b *builder) metaArgs() error {
	b.metaEnv = map[string]string{}
	for _, a := range b.df.MetaArgs {
		for _, kv := range a.Args {
			v, ok := b.opts.BuildArgs[kv.Key]
			if !ok && kv.Value != nil {
				var err error
				if v, err = expandWord(*kv.Value, envList(b.metaEnv), b.df.EscapeToken); err != nil {
					return b.errAt(a.Location(), err)
				}
				ok = true
			}
			if ok {
				b.metaEnv[kv.Key] = v
			}
		}
	}
	return nil
}

// stagesFor lists the stages the target needs, in Dockerfile order.
func (b *builder) stagesFor(target *dockerfile.Stage) ([]*dockerfile.Stage, error) {
	need := map[int]bool{}
	var visit func(st *dockerfile.Stage) error
	visit = func(st *dockerfile.Stage) error {
		if need[st.Index] {
			return nil
		}
		need[st.Index] = true
		base, err := expandWord(st.BaseName, envList(b.metaEnv), b.df.EscapeToken)
		if err != nil {
			return err
		}
		if dep, ok := b.stageRef(base, st.Index); ok {
			if err := visit(dep); err != nil {
				return err
			}
		}
		for _, cmd := range st.Commands {
			if c, ok := cmd.(*instructions.CopyCommand); ok && c.From != "" {
				if dep, ok := b.stageRef(c.From, st.Index); ok {
					if err := visit(dep); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	var out []*dockerfile.Stage
	for i := range b.df.Stages {
		if need[i] {
			out = append(out, &b.df.Stages[i])
		}
	}
	return out, nil
}

// stageRef finds an earlier stage by name or index.
func (b *builder) stageRef(name string, before int) (*dockerfile.Stage, bool) {
	st, ok := b.df.StageByName(name)
	if !ok || st.Index >= before {
		return nil, false
	}
	return st, true
}

// writeImage stores the final stage's config and manifest.
func (b *builder) writeImage(ctx context.Context, st *state) (v1.Descriptor, v1.Hash, error) {
	cf := st.config
	if len(b.opts.Labels) > 0 && cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range b.opts.Labels {
		cf.Config.Labels[k] = v
	}
	cf.Created = v1.Time{Time: b.opts.Epoch}
	raw, err := json.Marshal(cf)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	desc, err := b.s.WriteManifest(ctx, raw, st.layers)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	id, _, err := v1.SHA256(bytes.NewReader(raw))
	return desc, id, err
}

// errAt places err at a Dockerfile line.
func (b *builder) errAt(loc []parser.Range, err error) error {
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return &dockerfile.Error{File: b.df.Name, Line: line, Err: err}
}
