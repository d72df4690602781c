package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/build"
	"github.com/strata-ml/strata/internal/buildctx"
	"github.com/strata-ml/strata/internal/cache"
	"github.com/strata-ml/strata/internal/dockerfile"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
	"github.com/strata-ml/strata/internal/progress"
	"github.com/strata-ml/strata/internal/reference"
	"github.com/strata-ml/strata/internal/snapshot"
)

type buildOptions struct {
	tags        []string
	file        string
	buildArgs   []string
	target      string
	noCache     bool
	pull        bool
	progress    string
	compression string
	labels      []string
	check       bool
	quiet       bool
}

func newBuildCmd(o *options) *cobra.Command {
	var bo buildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a context directory. Each RUN, COPY
and ADD makes one layer; every other instruction changes only the config.
Every step is looked up in the build cache first; a step that runs says
why it was not cached ("rebuilt: app.py changed"). The same Dockerfile,
context and base image give the same image ID on any machine: layer times
are the Unix epoch, or SOURCE_DATE_EPOCH when set.`,
		Example: `  strata build -t ml-flask-app .
  strata build -t app:v2 --build-arg VERSION=2 -f docker/Dockerfile .
  strata build --check .                 # advice on the Dockerfile, no build
  strata build --progress json -t app . # one JSON event per line
  strata build - < Dockerfile            # no context`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, o, bo, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&bo.tags, "tag", "t", nil, "name and optionally a tag in the 'name:tag' format")
	f.StringVarP(&bo.file, "file", "f", "", "name of the Dockerfile (default: 'PATH/Dockerfile')")
	f.StringArrayVar(&bo.buildArgs, "build-arg", nil, "set build-time variables")
	f.StringVar(&bo.target, "target", "", "set the target build stage to build")
	f.BoolVar(&bo.noCache, "no-cache", false, "do not use cache when building the image")
	f.BoolVar(&bo.pull, "pull", false, "always attempt to pull a newer version of the image")
	f.StringVar(&bo.progress, "progress", "auto", "set type of progress output (auto, plain, json)")
	f.StringVar(&bo.compression, "compression", "gzip", "layer compression (gzip, zstd)")
	f.StringArrayVar(&bo.labels, "label", nil, "set metadata for an image")
	f.BoolVar(&bo.check, "check", false, "print advice on the Dockerfile and exit without building")
	f.BoolVarP(&bo.quiet, "quiet", "q", false, "suppress the build output and print image ID on success")
	return cmd
}

func runBuild(cmd *cobra.Command, o *options, bo buildOptions, contextArg string) error {
	ctx := cmd.Context()
	var tags []reference.Reference
	for _, t := range bo.tags {
		ref, err := reference.ParseTagged(t)
		if err != nil {
			return err
		}
		tags = append(tags, ref)
	}
	buildArgs, err := parseKV(bo.buildArgs, "--build-arg", true)
	if err != nil {
		return err
	}
	labels, err := parseKV(bo.labels, "--label", false)
	if err != nil {
		return err
	}
	comp := layer.Compression(bo.compression)
	if comp != layer.Gzip && comp != layer.Zstd {
		return fmt.Errorf("--compression %s: want gzip or zstd", bo.compression)
	}
	if bo.progress != "auto" && bo.progress != "plain" && bo.progress != "json" && bo.progress != "tty" {
		return fmt.Errorf("--progress %s: want auto, plain, tty or json", bo.progress)
	}
	epoch := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%s: want seconds since 1970", s)
		}
		epoch = time.Unix(n, 0).UTC()
	}

	// The Dockerfile and the context.
	var src []byte
	dfPath, dfName := bo.file, "Dockerfile"
	bctx := buildctx.Empty()
	ignoreFile := ""
	switch {
	case contextArg == "-":
		if src, err = io.ReadAll(o.stdin); err != nil {
			return fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		dfPath = "-"
	default:
		if dfPath == "" {
			dfPath = filepath.Join(contextArg, "Dockerfile")
		}
		if dfPath == "-" {
			src, err = io.ReadAll(o.stdin)
		} else {
			dfName = filepath.Base(dfPath)
			src, err = os.ReadFile(dfPath)
		}
		if err != nil {
			return fmt.Errorf("read Dockerfile: %w", err)
		}
		patterns, from, err := buildctx.ReadIgnore(contextArg, dfPath)
		if err != nil {
			return err
		}
		ignoreFile = from
		if bctx, err = buildctx.Walk(contextArg, patterns); err != nil {
			return err
		}
		if abs, err := filepath.Abs(dfPath); err == nil {
			dfPath = abs
		}
	}
	df, err := dockerfile.Parse(dfName, src)
	if err != nil {
		return err
	}
	advice := build.Advise(df, bctx, ignoreFile)
	if bo.check {
		for _, a := range advice {
			fmt.Fprintf(o.stdout, "warning: %s\n", a)
		}
		if len(advice) == 0 {
			fmt.Fprintln(o.stdout, "no advice: the Dockerfile avoids the known traps")
		}
		return nil
	}
	if !bo.quiet && bo.progress != "json" {
		for _, w := range df.Warnings {
			fmt.Fprintf(o.stderr, "warning: %s\n", w)
		}
		for _, a := range advice {
			fmt.Fprintf(o.stderr, "warning: %s\n", a)
		}
	}

	s, done, err := o.useStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	c, err := cache.Open(s.Root(), s.Content())
	if err != nil {
		return err
	}
	pr := newBuildPrinter(o.stderr, bo.progress, bo.quiet)
	res, err := build.Build(ctx, s, c, build.Options{
		Context: bctx, Dockerfile: df, DockerfilePath: dfPath,
		BuildArgs: buildArgs, Target: bo.target, NoCache: bo.noCache,
		Labels: labels, Compression: comp, Epoch: epoch,
		Progress: pr.event, Output: pr.output(), Runner: buildRunner(o, s),
		Pull: pullFunc(bo.pull, s, pr.output()),
	})
	if ss, serr := snapshot.OpenExisting(s.Root()); serr == nil && ss.Pending() {
		flushLater(o) // RUN steps unpacked their base layers
	}
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := s.Tag(ctx, t, res.Target); err != nil {
			return err
		}
	}
	if len(tags) == 0 {
		if err := s.AddDangling(ctx, res.Target); err != nil {
			return err
		}
	}
	pr.finish(res, tags)
	if bo.quiet {
		fmt.Fprintln(o.stdout, res.ID)
	}
	return nil
}

// parseKV reads K=V flags; with fromEnv, a bare K takes $K (as Docker's
// --build-arg does).
func parseKV(list []string, flag string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
			}
			env, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = env
		}
		out[k] = v
	}
	return out, nil
}

// buildPrinter prints build events: "[n/N] INSTRUCTION" with CACHED or the
// step's time and why it ran; JSON lines with --progress json.
type buildPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string
	quiet bool
	start time.Time
	// pending: on a terminal, the step line drawn without its end yet.
	pending bool
	// head: in plain mode, the running RUN step's line, printed before its
	// first output (a step that prints nothing gets one line, at its end).
	head string
}

func newBuildPrinter(w io.Writer, mode string, quiet bool) *buildPrinter {
	if mode == "auto" {
		mode = "plain"
		if progress.IsTerminal(w) {
			mode = "tty"
		}
	}
	return &buildPrinter{w: w, mode: mode, quiet: quiet, start: time.Now()}
}

// endPending finishes a step line a terminal shows while the step runs.
func (p *buildPrinter) endPending() {
	if p.pending {
		fmt.Fprint(p.w, "\r\033[K")
		p.pending = false
	}
}

func (p *buildPrinter) event(e build.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet {
		return
	}
	if p.mode == "json" {
		json.NewEncoder(p.w).Encode(struct {
			build.Event
			DurationMS int64 `json:"DurationMS,omitempty"`
		}{e, e.Duration.Milliseconds()})
		return
	}
	head := fmt.Sprintf("[%d/%d] %s", e.Step, e.Total, e.Instruction)
	if e.Stage != "" {
		head = fmt.Sprintf("[%s %d/%d] %s", e.Stage, e.Step, e.Total, e.Instruction)
	}
	p.endPending()
	if e.Status != "start" {
		p.head = ""
	}
	switch e.Status {
	case "start":
		switch {
		case p.mode == "tty":
			fmt.Fprintf(p.w, "%s  ...", head)
			p.pending = true
		case strings.HasPrefix(e.Instruction, "RUN "):
			p.head = head
		}
	case "cached":
		fmt.Fprintf(p.w, "%s  CACHED\n", head)
	case "done":
		fmt.Fprintf(p.w, "%s  %.2fs\n      rebuilt: %s\n", head, e.Duration.Seconds(), e.Reason)
	case "error":
		fmt.Fprintf(p.w, "%s  ERROR\n", head)
	}
}

// output is where RUN steps' output goes: indented under their step.
func (p *buildPrinter) output() io.Writer {
	if p.quiet || p.mode == "json" {
		return io.Discard
	}
	return &prefixWriter{p: p, prefix: "      | "}
}

func (p *buildPrinter) finish(res *build.Result, tags []reference.Reference) {
	if p.quiet || p.mode == "json" {
		return
	}
	fmt.Fprintf(p.w, "writing image %s (%d cached, %d built) in %.2fs\n", res.ID, res.Cached, res.Built, time.Since(p.start).Seconds())
	for _, t := range tags {
		fmt.Fprintf(p.w, "naming to %s\n", t)
	}
}

type prefixWriter struct {
	p       *buildPrinter
	prefix  string
	midLine bool
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.p.pending {
		// Keep the running step's line; its output goes below it.
		fmt.Fprintln(w.p.w)
		w.p.pending = false
	}
	if w.p.head != "" {
		fmt.Fprintln(w.p.w, w.p.head)
		w.p.head = ""
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !w.midLine {
			io.WriteString(w.p.w, w.prefix)
		}
		io.WriteString(w.p.w, line)
		w.midLine = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}

// pullFunc is what --pull does before each FROM: pull the base image, its
// lines indented under the step.
func pullFunc(pull bool, s *image.Store, out io.Writer) func(context.Context, string) error {
	if !pull {
		return nil
	}
	pulled := map[string]bool{}
	return func(ctx context.Context, base string) error {
		ref, err := reference.Parse(base)
		if err != nil {
			return err
		}
		if pulled[ref.String()] {
			return nil
		}
		pulled[ref.String()] = true
		_, err = pullImage(ctx, s, ref, out, io.Discard)
		return err
	}
}
