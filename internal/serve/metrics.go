package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/strata-ml/strata/internal/model"
)

// This file instruments every request: Prometheus metrics in a registry of
// the server's own, and the JSON-lines access log.

// metrics are a server's Prometheus metrics.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	rows     *prometheus.CounterVec
	inflight prometheus.Gauge
	info     *prometheus.GaugeVec
}

// newMetrics registers the metrics in reg, or in a new registry with the Go
// runtime and process collectors when reg is nil.
func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_requests_total",
			Help: "HTTP requests served, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_errors_total",
			Help: "HTTP requests answered with an error (status 400 and above), by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_http_request_duration_seconds",
			Help:    "Time to serve a request, by endpoint.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_rows_predicted_total",
			Help: "Rows predicted, by endpoint.",
		}, []string{"endpoint"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_http_requests_in_flight",
			Help: "Requests being served.",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_model_info",
			Help: "The model being served (always 1), labelled with its estimator, class and scikit-learn version.",
		}, []string{"name", "estimator", "class", "sklearn_version"}),
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.rows, m.inflight, m.info)
	return m
}

// setModel labels the model info gauge with the model now served.
func (m *metrics) setModel(name string, info model.Info) {
	m.info.Reset()
	m.info.WithLabelValues(name, info.Estimator, info.Class, info.SklearnVersion).Set(1)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// codes are the label values of the common status codes, precomputed.
var codes = func() map[int]string {
	m := map[int]string{}
	for _, c := range []int{200, 400, 404, 405, 408, 413, 431, 500, 503} {
		m[c] = strconv.Itoa(c)
	}
	return m
}()

func codeLabel(c int) string {
	if s, ok := codes[c]; ok {
		return s
	}
	return strconv.Itoa(c)
}

// serveEndpoint serves a request with e: it checks the method, turns a
// panic into a 500, and counts, times and logs the request.
func (s *Server) serveEndpoint(e *endpoint, ctx *fasthttp.RequestCtx) {
	start := time.Now()
	s.metrics.inflight.Inc()
	defer func() {
		if p := recover(); p != nil {
			// Nothing was sent yet: fasthttp writes the response after
			// the handler returns.
			ctx.Response.Reset()
			writeError(ctx, http.StatusInternalServerError, fmt.Errorf("internal error: %v", p))
		}
		s.observe(e, ctx, start)
	}()
	if !e.allows(ctx.Method()) {
		ctx.Response.Header.Set("Allow", e.allow)
		writeError(ctx, http.StatusMethodNotAllowed, fmt.Errorf("method %s is not allowed on %s: use %s", ctx.Method(), ctx.Path(), e.allow))
		return
	}
	e.h(ctx)
}

// observe counts, times and logs a request answered as endpoint e; the
// caller counted it in flight at start.
func (s *Server) observe(e *endpoint, ctx *fasthttp.RequestCtx, start time.Time) {
	d := time.Since(start)
	s.metrics.inflight.Dec()
	e.latency.Observe(d.Seconds())
	status := ctx.Response.StatusCode()
	code := codeLabel(status)
	s.metrics.requests.WithLabelValues(e.pattern, code).Inc()
	if status >= 400 {
		s.metrics.errors.WithLabelValues(e.pattern, code).Inc()
	}
	if s.o.accessLog != nil {
		s.logAccess(e, ctx, start, d)
	}
}

// accessEntry is one line of the access log.
type accessEntry struct {
	Time     string  `json:"time"`
	Method   string  `json:"method"`
	Path     string  `json:"path"`
	Status   int     `json:"status"`
	Duration float64 `json:"duration_ms"`
	Bytes    int64   `json:"bytes"`
	Remote   string  `json:"remote"`
}

// logAccess writes one JSON line to the access log. A request the server
// could not read has "-" for its method and path.
func (s *Server) logAccess(e *endpoint, ctx *fasthttp.RequestCtx, start time.Time, d time.Duration) {
	method, path := string(ctx.Method()), string(ctx.Path())
	if e == s.routes.malformed {
		method, path = "-", "-"
	}
	line, err := json.Marshal(accessEntry{
		Time:     start.UTC().Format(time.RFC3339Nano),
		Method:   method,
		Path:     path,
		Status:   ctx.Response.StatusCode(),
		Duration: float64(d.Microseconds()) / 1000,
		Bytes:    int64(len(ctx.Response.Body())),
		Remote:   ctx.RemoteAddr().String(),
	})
	if err != nil {
		return // cannot happen: every field marshals
	}
	line = append(line, '\n')
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = s.o.accessLog.Write(line) // a broken log must not fail requests
}
