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

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// codes are the label values of the common status codes, precomputed.
var codes = func() map[int]string {
	m := map[int]string{}
	for _, c := range []int{200, 400, 404, 405, 413, 500, 503} {
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

// instrument counts, times and logs the requests h serves for endpoint, and
// turns a panic in h into a 500.
func (s *Server) instrument(endpoint string, h http.Handler) http.Handler {
	lat := s.metrics.latency.WithLabelValues(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Inc()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			p := recover()
			if p == http.ErrAbortHandler {
				panic(p)
			}
			if p != nil && !rec.wrote {
				writeError(rec, http.StatusInternalServerError, fmt.Errorf("internal error: %v", p))
			}
			d := time.Since(start)
			s.metrics.inflight.Dec()
			lat.Observe(d.Seconds())
			code := codeLabel(rec.code)
			s.metrics.requests.WithLabelValues(endpoint, code).Inc()
			if rec.code >= 400 {
				s.metrics.errors.WithLabelValues(endpoint, code).Inc()
			}
			if s.o.accessLog != nil {
				s.logAccess(r, rec, start, d)
			}
		}()
		h.ServeHTTP(rec, r)
	})
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

// logAccess writes one JSON line to the access log.
func (s *Server) logAccess(r *http.Request, rec *recorder, start time.Time, d time.Duration) {
	line, err := json.Marshal(accessEntry{
		Time:     start.UTC().Format(time.RFC3339Nano),
		Method:   r.Method,
		Path:     r.URL.Path,
		Status:   rec.code,
		Duration: float64(d.Microseconds()) / 1000,
		Bytes:    rec.bytes,
		Remote:   r.RemoteAddr,
	})
	if err != nil {
		return // cannot happen: every field marshals
	}
	line = append(line, '\n')
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = s.o.accessLog.Write(line) // a broken log must not fail requests
}
