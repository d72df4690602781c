package serve

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// This file serves the API of the Flask tutorial, unchanged:
// POST /predict {"features": [5.1, 3.5, 1.4, 0.2]} -> {"prediction": [0]},
// batches of rows too, and POST /predict_proba; and the /healthz and
// /readyz probes.

// tooLargeError is a body over the limit: a 413.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the request body is larger than the limit of %d bytes", e.limit)
}

// modelError is a failure of the model itself on valid input: a 500.
type modelError struct{ err error }

func (e *modelError) Error() string { return e.err.Error() }
func (e *modelError) Unwrap() error { return e.err }

// fail answers err with its status: 400 for bad input, 413 for a body too
// large, 500 otherwise.
func fail(w http.ResponseWriter, err error) {
	var (
		in  *inputError
		big *tooLargeError
	)
	switch {
	case errors.As(err, &in):
		writeError(w, http.StatusBadRequest, err)
	case errors.As(err, &big):
		writeError(w, http.StatusRequestEntityTooLarge, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}

var floatPool = sync.Pool{New: func() any { f := make([]float64, 0, 256); return &f }}

// readBody reads the request body into a pooled buffer, up to the limit.
// The caller puts the buffer back with putBuf.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, error) {
	limit := s.o.maxBody
	if r.ContentLength > limit {
		return nil, &tooLargeError{limit}
	}
	buf := getBuf()
	b := *buf
	if n := r.ContentLength; n > 0 && int64(cap(b)) < n+1 {
		b = make([]byte, 0, n+1) // +1 to see EOF without growing
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*buf = b
			putBuf(buf)
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, &tooLargeError{limit}
			}
			return nil, badInput("reading the request body: %v", err)
		}
	}
	*buf = b
	return buf, nil
}

// loaded returns the model being served, or answers 503 and returns nil.
func (s *Server) loaded(w http.ResponseWriter) *state {
	st := s.state.Load()
	if st.model == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("no model is loaded yet: %w", st.err))
		return nil
	}
	return st
}

// decodeRows reads and decodes a /predict body. The caller puts back both
// pooled buffers.
func (s *Server) decodeRows(w http.ResponseWriter, r *http.Request, st *state) (features, *[]byte, *[]float64, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return features{}, nil, nil, err
	}
	fp := floatPool.Get().(*[]float64)
	f, err := decodeFeatures(*body, st.nf, st.info.AllowsNaN, *fp)
	if f.flat != nil {
		*fp = f.flat
	}
	if err != nil {
		putBuf(body)
		putFloats(fp)
		return features{}, nil, nil, err
	}
	return f, body, fp, nil
}

func putFloats(f *[]float64) {
	if cap(*f) > 1<<17 {
		return
	}
	*f = (*f)[:0]
	floatPool.Put(f)
}

// handlePredict is POST /predict.
func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	st := s.loaded(w)
	if st == nil {
		return
	}
	f, body, fp, err := s.decodeRows(w, r, st)
	if err != nil {
		fail(w, err)
		return
	}
	defer putBuf(body)
	defer putFloats(fp)
	pred, err := safePredict(st.model, f.rows)
	if err != nil {
		fail(w, fmt.Errorf("predicting %d rows: %w", len(f.rows), err))
		return
	}
	s.metrics.rows.WithLabelValues("/predict").Add(float64(len(f.rows)))
	out := getBuf()
	defer putBuf(out)
	b := append(*out, `{"prediction":`...)
	b = appendLabels(b, pred)
	b = append(b, "}\n"...)
	*out = b
	writeBytes(w, http.StatusOK, b)
}

// handlePredictProba is POST /predict_proba.
func (s *Server) handlePredictProba(w http.ResponseWriter, r *http.Request) {
	st := s.loaded(w)
	if st == nil {
		return
	}
	if st.clf == nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s is not a classifier: it has no class probabilities; use /predict", st.info.Estimator))
		return
	}
	f, body, fp, err := s.decodeRows(w, r, st)
	if err != nil {
		fail(w, err)
		return
	}
	defer putBuf(body)
	defer putFloats(fp)
	proba, err := safeProba(st.clf, f.rows)
	if err != nil {
		fail(w, fmt.Errorf("predicting probabilities of %d rows: %w", len(f.rows), err))
		return
	}
	s.metrics.rows.WithLabelValues("/predict_proba").Add(float64(len(f.rows)))
	out := getBuf()
	defer putBuf(out)
	b := append(*out, `{"probabilities":[`...)
	for i, p := range proba {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloats(b, p)
	}
	b = append(b, `],"classes":`...)
	b = appendLabels(b, st.classes)
	b = append(b, "}\n"...)
	*out = b
	writeBytes(w, http.StatusOK, b)
}

// handleLive is GET /healthz: the process is up.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/health/live" {
		writeBytes(w, http.StatusOK, []byte(`{"live":true}`+"\n"))
		return
	}
	writeBytes(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// handleReady is GET /readyz: the model is loaded and passed its
// self-check, and the server is not shutting down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	err := s.Ready()
	v2 := r.URL.Path == "/v2/health/ready"
	switch {
	case err == nil && v2:
		writeBytes(w, http.StatusOK, []byte(`{"ready":true}`+"\n"))
	case err == nil:
		writeBytes(w, http.StatusOK, append(appendString([]byte(`{"status":"ready","model":`), s.o.name), "}\n"...))
	case v2:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "error": err.Error()})
	}
}
