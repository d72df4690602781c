package cli

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/model"
	"github.com/strata-ml/strata/internal/serve"
)

func newServeCmd(o *options) *cobra.Command {
	var (
		host      string
		port      int
		name      string
		maxBody   string
		accessLog bool
		grace     time.Duration
		threads   int
	)
	cmd := &cobra.Command{
		Use:   "serve [OPTIONS] MODEL",
		Short: "Serve a scikit-learn model over HTTP",
		Long: `Serve a pickled or joblib-dumped scikit-learn model over HTTP, with no
Python: the Flask tutorial's API (POST /predict with {"features": [...]},
one row or a batch, and POST /predict_proba), the Open Inference Protocol v2
of KServe, Triton and MLServer (/v2/models/NAME/infer), the probes /healthz
and /readyz, Prometheus metrics at /metrics and an OpenAPI document at
/openapi.json.

By default requests run on as many threads as there are CPUs. Where the
server shares its CPUs with its clients (a load generator, a proxy or a
sidecar on the same few cores), --threads 1 often answers more requests, and
sooner: one thread takes the ready connections in turn, where more would
wake one another and take CPU time from the clients.

On SIGTERM or SIGINT the server stops accepting connections, lets the
requests in flight finish (at most --shutdown-timeout) and exits 0.`,
		Example: `  strata serve model.pkl
  strata serve --port 8080 --name iris --access-log iris.joblib
  curl -X POST http://localhost:5000/predict -H "Content-Type: application/json" \
      -d '{"features": [5.1, 3.5, 1.4, 0.2]}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			limit, err := parseSize(maxBody)
			if err != nil {
				return fmt.Errorf("invalid --max-body: %w", err)
			}
			if port < 0 || port > 65535 {
				return fmt.Errorf("invalid --port %d: it must be between 0 and 65535", port)
			}
			if threads < 0 {
				return fmt.Errorf("invalid --threads %d: it must be 0 (one per CPU) or more", threads)
			}
			if threads > 0 {
				runtime.GOMAXPROCS(threads)
			}
			if name == "" {
				name = modelName(path)
			}
			if !validName().MatchString(name) {
				return fmt.Errorf("invalid --name %q: use letters, digits, '.', '_' and '-'", name)
			}
			start := time.Now()
			m, err := model.Load(path)
			if err != nil {
				return fmt.Errorf("loading the model: %w", err)
			}
			loaded := time.Since(start)

			opts := []serve.Option{serve.WithName(name), serve.WithMaxBody(limit), serve.WithVersion(version), serve.WithShutdownTimeout(grace)}
			if accessLog {
				opts = append(opts, serve.WithAccessLog(o.stdout))
			}
			srv := serve.New(m, opts...)
			if err := srv.Ready(); err != nil {
				return fmt.Errorf("the model %s does not work: %w", path, err)
			}
			ctx := cmd.Context()
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("listening: %w", err)
			}
			_, actual, _ := net.SplitHostPort(ln.Addr().String())
			fmt.Fprintf(o.stderr, "Serving %s (%s) from %s on http://%s (loaded in %s)\n",
				m.Info().Estimator, describe(m), path, net.JoinHostPort(host, actual), roundDuration(loaded))
			if err := srv.Serve(ctx, ln); err != nil {
				return err
			}
			fmt.Fprintln(o.stderr, "Stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "0.0.0.0", "the address to listen on")
	f.IntVarP(&port, "port", "p", 5000, "the port to listen on (0: any free port)")
	f.StringVar(&name, "name", "", "the model's name in /v2/models/NAME (default: the file name without its extension)")
	f.StringVar(&maxBody, "max-body", "8MiB", "the largest request body accepted (bytes, or with a unit: 512KiB, 8MiB, 1GB)")
	f.BoolVar(&accessLog, "access-log", false, "write an access log to stdout, one JSON object per request")
	f.IntVar(&threads, "threads", 0, "how many threads run requests at once (GOMAXPROCS; 0: one per CPU)")
	f.DurationVar(&grace, "shutdown-timeout", serve.DefaultShutdownTimeout, "how long to wait for requests in flight on SIGTERM")
	return cmd
}

// validName is what a model name in a /v2 URL may hold.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) })

// modelName is a model's default name: its file name without extensions,
// "iris" for iris.joblib.gz.
func modelName(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if !validName().MatchString(base) {
		return "model"
	}
	return base
}

// describe sums up a model: "4 features, 3 classes".
func describe(m model.Model) string {
	s := fmt.Sprintf("%d features", m.NumFeatures())
	if c, ok := m.(model.Classifier); ok {
		s += fmt.Sprintf(", %d classes", len(c.Classes()))
	}
	return s
}

// roundDuration rounds d to 3 significant digits or so, for humans.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// parseSize parses a size in bytes: 1024, 512KiB, 8MiB, 8MB, 1g.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	}[unit]
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || mult == 0 || v <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 8MiB", s)
	}
	n := v * mult
	if n > 1<<40 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}
