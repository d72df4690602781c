// Package serve serves a loaded scikit-learn model over HTTP: the Flask
// API of the usual tutorial (POST /predict with {"features": [...]}), the
// Open Inference Protocol v2 of KServe, Triton and MLServer, health and
// readiness probes, Prometheus metrics and an OpenAPI document.
//
// Bad input never crashes or hangs the server: every client mistake is a
// 4xx with {"error": "..."} that says what was wrong, bodies are bounded,
// and the HTTP server has timeouts for slow clients.
//
// The HTTP server is fasthttp's: a request is parsed into buffers reused
// across requests, with no goroutine of its own beyond the connection's,
// which on a 2-core machine answers about 1.5 times the requests per
// second of net/http (bench/serve.sh). Handlers take a *fasthttp.RequestCtx.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/strata-ml/strata/internal/model"
)

// DefaultMaxBody is the default limit on the size of a request body.
const DefaultMaxBody = 8 << 20

// DefaultShutdownTimeout is how long Serve waits, by default, for in-flight
// requests to finish once its context is cancelled.
const DefaultShutdownTimeout = 10 * time.Second

// Option configures a Server.
type Option func(*options)

type options struct {
	name            string
	version         string
	maxBody         int64
	accessLog       io.Writer
	registry        *prometheus.Registry
	shutdownTimeout time.Duration
	timeouts        timeouts
}

// timeouts are the HTTP server's limits on slow clients.
type timeouts struct {
	readHeader, read, write, idle time.Duration
}

var defaultTimeouts = timeouts{
	readHeader: 5 * time.Second,   // a client must send its request line and headers quickly
	read:       60 * time.Second,  // and its body (up to the body limit) within this, once the headers are in
	write:      60 * time.Second,  // and take the response within this
	idle:       120 * time.Second, // keep-alive connections are closed after this
}

// maxHeaderBytes bounds a request's line and headers: fasthttp reads them
// into one buffer of this size, kept for each open connection, so it is
// what an idle keep-alive connection costs. Larger requests get a 431.
const maxHeaderBytes = 16 << 10

// WithName sets the model's name in the Open Inference Protocol
// (/v2/models/NAME) and in metrics. The default is "model".
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithVersion sets the server version reported by GET /v2.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithMaxBody limits request bodies to n bytes; larger ones get a 413. The
// default is DefaultMaxBody (8 MiB).
func WithMaxBody(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithAccessLog writes one JSON line per request to w (method, path,
// status, duration, bytes, remote). There is no access log by default.
func WithAccessLog(w io.Writer) Option { return func(o *options) { o.accessLog = w } }

// WithRegistry registers the server's metrics in reg and serves reg at
// /metrics. By default each server has a private registry of its own,
// with the Go runtime and process collectors.
func WithRegistry(reg *prometheus.Registry) Option {
	return func(o *options) { o.registry = reg }
}

// WithShutdownTimeout bounds how long Serve waits for in-flight requests
// once its context is cancelled. The default is DefaultShutdownTimeout.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) { o.shutdownTimeout = d }
}

// Server serves one model over HTTP. Handler is its fasthttp request
// handler; Serve and ListenAndServe run it with timeouts and graceful
// shutdown.
type Server struct {
	o       options
	state   atomic.Pointer[state]
	routes  routes
	metrics *metrics
	logMu   sync.Mutex // serializes access log lines
}

// state is the model being served, swapped atomically by SetModel.
type state struct {
	model    model.Model
	clf      model.Classifier // nil for regressors
	classes  []any
	info     model.Info
	nf       int
	err      error // why the server is not ready, nil once it is
	draining bool  // shutting down: not ready any more
}

// New returns a server for m. The server is ready once m passed a
// self-check (a prediction on a row of zeros); Ready says why not. m may be
// nil for a model that is still loading: the server then answers the
// probes and 503 until SetModel.
func New(m model.Model, opts ...Option) *Server {
	s := &Server{o: options{
		name:            "model",
		version:         "dev",
		maxBody:         DefaultMaxBody,
		shutdownTimeout: DefaultShutdownTimeout,
		timeouts:        defaultTimeouts,
	}}
	for _, opt := range opts {
		opt(&s.o)
	}
	s.metrics = newMetrics(s.o.registry)
	s.routes = s.newRoutes()
	if m == nil {
		s.state.Store(&state{err: errors.New("the model is loading")})
	} else {
		_ = s.SetModel(m) // the error is kept for Ready and /readyz
	}
	return s
}

// SetModel serves m from now on. It first checks that m predicts a row of
// zeros; if it does not, the server is not ready and the error says why.
func (s *Server) SetModel(m model.Model) error {
	if m == nil {
		return errors.New("no model to serve")
	}
	st := &state{model: m, info: m.Info(), nf: m.NumFeatures()}
	if c, ok := m.(model.Classifier); ok {
		st.clf = c
		st.classes = c.Classes()
	}
	st.err = selfCheck(st)
	if st.err != nil {
		st.err = fmt.Errorf("self-check of %s failed: %w", st.info.Estimator, st.err)
	}
	for { // keep draining if shutdown has begun
		old := s.state.Load()
		st.draining = old != nil && old.draining
		if s.state.CompareAndSwap(old, st) {
			break
		}
	}
	s.metrics.setModel(s.o.name, st.info)
	return st.err
}

// Ready returns nil when the server has a model that passed its
// self-check, or why it is not ready.
func (s *Server) Ready() error {
	st := s.state.Load()
	if st.draining {
		return errors.New("shutting down")
	}
	return st.err
}

// selfCheck predicts one row of zeros.
func selfCheck(st *state) error {
	if st.nf <= 0 {
		return fmt.Errorf("the model reports %d features", st.nf)
	}
	row := [][]float64{make([]float64, st.nf)}
	pred, err := safePredict(st.model, row)
	if err != nil {
		return err
	}
	if len(pred) != 1 {
		return fmt.Errorf("predicting one row gave %d predictions", len(pred))
	}
	if st.clf != nil {
		proba, err := safeProba(st.clf, row)
		if err != nil {
			return err
		}
		if len(proba) != 1 || len(proba[0]) != len(st.classes) {
			return fmt.Errorf("predict_proba of one row gave %d rows for %d classes", len(proba), len(st.classes))
		}
	}
	return nil
}

// safePredict calls m.Predict, turning a panic in the model into an error
// so that no input can bring the server down.
func safePredict(m model.Model, rows [][]float64) (pred []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("predict panicked: %v", r)
		}
	}()
	pred, err = m.Predict(rows)
	if err == nil && len(pred) != len(rows) {
		err = fmt.Errorf("predict returned %d predictions for %d rows", len(pred), len(rows))
	}
	return pred, err
}

// safeProba calls c.PredictProba, turning a panic into an error.
func safeProba(c model.Classifier, rows [][]float64) (proba [][]float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("predict_proba panicked: %v", r)
		}
	}()
	proba, err = c.PredictProba(rows)
	if err == nil && len(proba) != len(rows) {
		err = fmt.Errorf("predict_proba returned %d rows for %d rows", len(proba), len(rows))
	}
	return proba, err
}

// Handler is the server's request handler, for a fasthttp.Server of the
// caller's own (Serve runs one).
func (s *Server) Handler(ctx *fasthttp.RequestCtx) { s.serveEndpoint(s.routes.find(ctx.Path()), ctx) }

// endpoint is one route: its handler, the methods it takes and its metrics.
type endpoint struct {
	pattern string // the metrics label, e.g. /v2/models/{name}/infer
	methods []string
	allow   string // methods for the Allow header of a 405
	h       func(*fasthttp.RequestCtx)
	latency prometheus.Observer
}

// routes finds the endpoint of a path.
type routes struct {
	exact                     map[string]*endpoint
	v2model, v2ready, v2infer *endpoint
	notFound                  *endpoint
	// malformed labels the requests fasthttp could not read.
	malformed *endpoint
}

// newRoutes lists every endpoint with the methods it takes.
func (s *Server) newRoutes() routes {
	get := []string{fasthttp.MethodGet, fasthttp.MethodHead}
	post := []string{fasthttp.MethodPost}
	ep := func(pattern string, h func(*fasthttp.RequestCtx), methods ...string) *endpoint {
		return &endpoint{pattern: pattern, methods: methods, allow: strings.Join(methods, ", "), h: h,
			latency: s.metrics.latency.WithLabelValues(pattern)}
	}
	r := routes{exact: map[string]*endpoint{}}
	for _, e := range []*endpoint{
		ep("/predict", s.handlePredict, post...),
		ep("/predict_proba", s.handlePredictProba, post...),
		ep("/healthz", s.handleLive, get...),
		ep("/readyz", s.handleReady, get...),
		ep("/openapi.json", s.handleOpenAPI, get...),
		ep("/metrics", fasthttpadaptor.NewFastHTTPHandler(s.metrics.handler()), get...),
		ep("/v2", s.handleV2Server, get...),
		ep("/v2/health/live", s.handleLive, get...),
		ep("/v2/health/ready", s.handleReady, get...),
	} {
		r.exact[e.pattern] = e
	}
	r.v2model = ep("/v2/models/{name}", s.handleV2Model, get...)
	r.v2ready = ep("/v2/models/{name}/ready", s.handleV2ModelReady, get...)
	r.v2infer = ep("/v2/models/{name}/infer", s.handleV2Infer, post...)
	r.notFound = ep("/", func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, http.StatusNotFound, fmt.Errorf("no such endpoint: %s (see /openapi.json)", ctx.Path()))
	})
	r.malformed = ep("-", nil)
	return r
}

// find returns the endpoint of path (already cleaned and unescaped).
func (r *routes) find(path []byte) *endpoint {
	if e, ok := r.exact[string(path)]; ok {
		return e
	}
	if rest, ok := strings.CutPrefix(string(path), "/v2/models/"); ok {
		name, sub, nested := strings.Cut(rest, "/")
		switch {
		case name == "":
		case !nested:
			return r.v2model
		case sub == "ready":
			return r.v2ready
		case sub == "infer":
			return r.v2infer
		}
	}
	return r.notFound
}

// allows reports whether the endpoint takes method (any, if it lists none).
func (e *endpoint) allows(method []byte) bool {
	if len(e.methods) == 0 {
		return true
	}
	for _, m := range e.methods {
		if string(method) == m {
			return true
		}
	}
	return false
}

// modelName is NAME in /v2/models/NAME[/...].
func modelName(ctx *fasthttp.RequestCtx) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(string(ctx.Path()), "/v2/models/"), "/")
	return name
}

// ListenAndServe listens on addr (host:port) and serves until ctx is
// cancelled; see Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting connections, reports not ready, and waits for
// in-flight requests to finish, at most the shutdown timeout, after which
// it closes the remaining connections and returns an error. Slow clients
// are cut off by read and write timeouts.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var conns connSet
	fs := &fasthttp.Server{
		Handler:      s.Handler,
		ErrorHandler: s.handleTransportError,
		Name:         "strata",
		// ReadTimeout runs from a request's first byte: the headers must
		// come within readHeader; HeaderReceived then gives the body its
		// own, longer, limit.
		ReadTimeout: s.o.timeouts.readHeader,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: s.o.timeouts.read}
		},
		WriteTimeout:       s.o.timeouts.write,
		IdleTimeout:        s.o.timeouts.idle,
		MaxRequestBodySize: int(min(s.o.maxBody, 1<<31-1)),
		ReadBufferSize:     maxHeaderBytes,
		CloseOnShutdown:    true,
		ConnState:          conns.track,
		Logger:             quietLogger{},
	}
	errc := make(chan error, 1)
	go func() { errc <- fs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.drain()
	sctx, cancel := context.WithTimeout(context.Background(), s.o.shutdownTimeout)
	defer cancel()
	err := fs.ShutdownWithContext(sctx)
	if err != nil {
		conns.closeAll() // cut off what did not finish in time
		err = fmt.Errorf("shutting down after %v: %w", s.o.shutdownTimeout, err)
	}
	if serr := <-errc; serr != nil && err == nil {
		err = fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	return err
}

// handleTransportError answers a request fasthttp could not read: a body
// over the limit (413), headers over maxHeaderBytes (431), a client too
// slow (408), or a malformed request (400). It is counted and logged as
// the endpoint its path names when the headers were read, else as "-".
// The answers never quote the request back.
func (s *Server) handleTransportError(ctx *fasthttp.RequestCtx, err error) {
	start := time.Now()
	s.metrics.inflight.Inc()
	e := s.routes.malformed
	var (
		ne    net.Error
		small *fasthttp.ErrSmallBuffer
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = s.routes.find(ctx.Path())
		writeError(ctx, http.StatusRequestEntityTooLarge, &tooLargeError{s.o.maxBody})
	case errors.As(err, &small):
		writeError(ctx, http.StatusRequestHeaderFieldsTooLarge, fmt.Errorf("the request line and headers are larger than the limit of %d bytes", maxHeaderBytes))
	case errors.As(err, &ne) && ne.Timeout():
		writeError(ctx, http.StatusRequestTimeout, errors.New("the request was not received in time"))
	default:
		writeError(ctx, http.StatusBadRequest, errors.New("malformed HTTP request"))
	}
	s.observe(e, ctx, start)
}

// connSet is the server's open connections, to close those that outlive
// the shutdown timeout.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (c *connSet) track(conn net.Conn, state fasthttp.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case fasthttp.StateNew:
		if c.conns == nil {
			c.conns = map[net.Conn]struct{}{}
		}
		c.conns[conn] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(c.conns, conn)
	}
}

func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		_ = conn.Close()
	}
}

// quietLogger drops fasthttp's own log lines (a client that went away, a
// malformed request): clients get their errors, and the metrics and the
// access log count every request, those fasthttp could not read too.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// drain marks the server not ready, so that load balancers stop sending it
// requests while it shuts down.
func (s *Server) drain() {
	for {
		old := s.state.Load()
		st := *old
		st.draining = true
		if s.state.CompareAndSwap(old, &st) {
			return
		}
	}
}
