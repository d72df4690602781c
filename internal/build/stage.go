package build

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-ml/strata/internal/cache"
	"github.com/strata-ml/strata/internal/dockerfile"
	"github.com/strata-ml/strata/internal/image"
)

// state is a stage's image as the build goes: config, layers, cache key.
type state struct {
	config v1.ConfigFile
	layers []v1.Descriptor
	key    cache.Key
	// rebuilt is the number of the last step of this stage that ran
	// instead of coming from the cache (0: all cached so far).
	rebuilt int
	// args are the ARGs in scope and their values (nil value: declared
	// without one).
	args map[string]*string
	// name labels the stage in progress lines.
	name string
}

// env is the variables instructions expand with: ARGs, then ENV over them.
func (st *state) env() []string {
	vars := map[string]string{}
	for k, v := range st.args {
		if v != nil {
			vars[k] = *v
		}
	}
	for _, kv := range st.config.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return envList(vars)
}

// argValues are the ARGs in scope with values, for RUN's cache key and
// environment.
func (st *state) argValues() map[string]string {
	out := map[string]string{}
	for k, v := range st.args {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func envList(vars map[string]string) []string {
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func expandWord(word string, env []string, escape rune) (string, error) {
	if escape == 0 {
		escape = '\\'
	}
	res, err := shell.NewLex(escape).ProcessWordWithMatches(word, shell.EnvsFromSlice(env))
	if err != nil {
		return "", err
	}
	return res.Result, nil
}

// buildStage runs one stage's steps.
func (b *builder) buildStage(ctx context.Context, ds *dockerfile.Stage) (*state, error) {
	st, err := b.from(ctx, ds)
	if err != nil {
		return nil, err
	}
	for i, cmd := range ds.Commands {
		if err := b.runStep(ctx, ds, i+1, st, cmd); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// from starts a stage from scratch, an earlier stage or an image.
func (b *builder) from(ctx context.Context, ds *dockerfile.Stage) (*state, error) {
	b.step++
	base, err := expandWord(ds.BaseName, envList(b.metaEnv), b.df.EscapeToken)
	if err != nil {
		return nil, b.errAt(ds.Location, err)
	}
	instr := "FROM " + base
	if ds.Name != "" {
		instr += " AS " + ds.Name
	}
	b.opts.Progress(Event{Step: b.step, Total: b.total, Stage: ds.Name, Instruction: instr, Status: "start"})
	st := &state{args: map[string]*string{}, name: ds.Name}
	switch dep, isStage := b.stageRef(base, ds.Index); {
	case isStage:
		prev := b.done[dep.Index]
		st.config = cloneConfig(prev.config)
		st.layers = append([]v1.Descriptor(nil), prev.layers...)
		st.key = prev.key
		st.rebuilt = prev.rebuilt
	case strings.EqualFold(base, "scratch"):
		st.config = v1.ConfigFile{Architecture: goarch(), OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
		st.config.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		st.key = cache.Inputs{Instruction: "FROM scratch"}.Key()
	default:
		if b.opts.Pull != nil {
			if err := b.opts.Pull(ctx, base); err != nil {
				return nil, b.errAt(ds.Location, fmt.Errorf("FROM %s: %w", base, err))
			}
		}
		img, err := b.s.Lookup(ctx, base)
		if errors.Is(err, image.ErrNotFound) {
			return nil, b.errAt(ds.Location, fmt.Errorf("FROM %s: no such image in the store (import, load or pull it first)", base))
		}
		if err != nil {
			return nil, b.errAt(ds.Location, fmt.Errorf("FROM %s: %w", base, err))
		}
		cf, _, err := b.s.ConfigFile(ctx, img)
		if err != nil {
			return nil, b.errAt(ds.Location, fmt.Errorf("FROM %s: %w", base, err))
		}
		st.config = *cf
		st.layers = append([]v1.Descriptor(nil), img.Manifest.Layers...)
		st.key = cache.Inputs{Instruction: "FROM " + img.Target.Digest.String()}.Key()
		for _, on := range cf.Config.OnBuild {
			fmt.Fprintf(b.opts.Output, "warning: %s: base image %s has ONBUILD %s; strata records ONBUILD but does not run it\n", b.df.Name, base, on)
		}
	}
	st.config.Config.OnBuild = nil
	b.cached++
	b.opts.Progress(Event{Step: b.step, Total: b.total, Stage: ds.Name, Instruction: instr, Status: "cached"})
	return st, nil
}

// runStep runs or reuses one instruction.
func (b *builder) runStep(ctx context.Context, ds *dockerfile.Stage, index int, st *state, cmd instructions.Command) error {
	b.step++
	step := b.step
	start := time.Now()
	ex, err := b.prepare(ctx, st, cmd)
	if err != nil {
		return b.errAt(cmd.Location(), err)
	}
	b.opts.Progress(Event{Step: step, Total: b.total, Stage: st.name, Instruction: ex.instruction, Status: "start"})
	if ex.noHistory {
		// ARG only declares: the steps that use its value carry it in
		// their own keys, so a new value rebuilds them, not this step.
		b.cached++
		b.opts.Progress(Event{Step: step, Total: b.total, Stage: st.name, Instruction: ex.instruction, Status: "cached"})
		return nil
	}
	in := ex.inputs
	in.Parent = st.key
	stepID := cache.StepID(b.opts.Context.Dir, b.opts.DockerfilePath, ds.Index, index)
	var key cache.Key
	var rec *cache.Record
	var hit bool
	if !ex.keyAfterRun {
		key = in.Key()
		rec, hit = b.cache.Get(ctx, key)
	}
	if hit && !b.opts.NoCache {
		b.apply(st, ex, rec)
		st.key = key
		b.cached++
		b.cache.SaveInputs(stepID, in)
		b.opts.Progress(Event{Step: step, Total: b.total, Stage: st.name, Instruction: ex.instruction, Status: "cached"})
		return nil
	}
	var reason string
	switch {
	case b.opts.NoCache:
		reason = "--no-cache"
	case st.rebuilt > 0:
		reason = fmt.Sprintf("parent step %d was rebuilt", st.rebuilt)
	default:
		last, _ := b.cache.LastInputs(stepID)
		reason = cache.Explain(in, last)
	}
	rec = &cache.Record{Key: key, Created: b.opts.Epoch}
	if ex.run != nil {
		if err := ex.run(ctx, rec); err != nil {
			b.opts.Progress(Event{Step: step, Total: b.total, Stage: st.name, Instruction: ex.instruction, Status: "error", Error: err.Error()})
			return b.errAt(cmd.Location(), err)
		}
	}
	if ex.keyAfterRun {
		key = in.Key()
		rec.Key = key
	}
	if err := b.cache.Put(rec); err != nil {
		return fmt.Errorf("record build cache: %w", err)
	}
	b.cache.SaveInputs(stepID, in)
	b.apply(st, ex, rec)
	st.key = key
	st.rebuilt = step
	b.built++
	b.opts.Progress(Event{Step: step, Total: b.total, Stage: st.name, Instruction: ex.instruction, Status: "done", Reason: reason, Duration: time.Since(start)})
	return nil
}

// apply adds a step's result to the stage: its config change and history
// entry, and its layer if it made one.
func (b *builder) apply(st *state, ex *execution, rec *cache.Record) {
	if ex.config != nil {
		ex.config(&st.config.Config)
	}
	h := v1.History{Created: v1.Time{Time: b.opts.Epoch}, CreatedBy: ex.instruction, Comment: "strata build"}
	if ex.noHistory {
		return
	}
	if rec.Layer != nil && rec.DiffID != nil {
		st.layers = append(st.layers, *rec.Layer)
		st.config.RootFS.DiffIDs = append(st.config.RootFS.DiffIDs, *rec.DiffID)
	} else {
		h.EmptyLayer = true
	}
	st.config.History = append(st.config.History, h)
}

// execution is a prepared step: its cache inputs, and what it does.
type execution struct {
	instruction string
	inputs      cache.Inputs
	// config changes the image config (metadata instructions).
	config func(*v1.Config)
	// run makes the step's layer into rec (RUN, COPY, ADD).
	run func(ctx context.Context, rec *cache.Record) error
	// noHistory: the step leaves no history entry (ARG).
	noHistory bool
	// keyAfterRun: the step runs whatever its key (--no-cache), and run
	// completes its inputs (file digests computed on the way), so the key
	// is made after.
	keyAfterRun bool
}

func cloneConfig(c v1.ConfigFile) v1.ConfigFile {
	out := c
	out.History = append([]v1.History(nil), c.History...)
	out.RootFS.DiffIDs = append([]v1.Hash(nil), c.RootFS.DiffIDs...)
	out.Config.Env = append([]string(nil), c.Config.Env...)
	if c.Config.Labels != nil {
		out.Config.Labels = map[string]string{}
		for k, v := range c.Config.Labels {
			out.Config.Labels[k] = v
		}
	}
	if c.Config.ExposedPorts != nil {
		out.Config.ExposedPorts = map[string]struct{}{}
		for k := range c.Config.ExposedPorts {
			out.Config.ExposedPorts[k] = struct{}{}
		}
	}
	if c.Config.Volumes != nil {
		out.Config.Volumes = map[string]struct{}{}
		for k := range c.Config.Volumes {
			out.Config.Volumes[k] = struct{}{}
		}
	}
	return out
}

// resolvePath makes p absolute against the working directory.
func resolvePath(workdir, p string) string {
	if path.IsAbs(p) {
		return p
	}
	if workdir == "" {
		workdir = "/"
	}
	return path.Join(workdir, p)
}
