package serve

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/valyala/fasthttp"
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
func fail(ctx *fasthttp.RequestCtx, err error) {
	var (
		in  *inputError
		big *tooLargeError
	)
	switch {
	case errors.As(err, &in):
		writeError(ctx, http.StatusBadRequest, err)
	case errors.As(err, &big):
		writeError(ctx, http.StatusRequestEntityTooLarge, err)
	default:
		writeError(ctx, http.StatusInternalServerError, err)
	}
}

var floatPool = sync.Pool{New: func() any { f := make([]float64, 0, 256); return &f }}

// body returns the request body. The server reads no more than the limit
// (its MaxRequestBodySize); the check here holds for a Handler run by a
// fasthttp.Server of the caller's.
func (s *Server) body(ctx *fasthttp.RequestCtx) ([]byte, error) {
	b := ctx.PostBody()
	if int64(len(b)) > s.o.maxBody {
		return nil, &tooLargeError{s.o.maxBody}
	}
	return b, nil
}

// loaded returns the model being served, or answers 503 and returns nil.
func (s *Server) loaded(ctx *fasthttp.RequestCtx) *state {
	st := s.state.Load()
	if st.model == nil {
		writeError(ctx, http.StatusServiceUnavailable, fmt.Errorf("no model is loaded yet: %w", st.err))
		return nil
	}
	return st
}

// decodeRows reads and decodes a /predict body. The caller puts back the
// pooled floats.
func (s *Server) decodeRows(ctx *fasthttp.RequestCtx, st *state) (features, *[]float64, error) {
	body, err := s.body(ctx)
	if err != nil {
		return features{}, nil, err
	}
	fp := floatPool.Get().(*[]float64)
	f, err := decodeFeatures(body, st.nf, st.info.AllowsNaN, *fp)
	if f.flat != nil {
		*fp = f.flat
	}
	if err != nil {
		putFloats(fp)
		return features{}, nil, err
	}
	return f, fp, nil
}

func putFloats(f *[]float64) {
	if cap(*f) > 1<<17 {
		return
	}
	*f = (*f)[:0]
	floatPool.Put(f)
}

// handlePredict is POST /predict.
func (s *Server) handlePredict(ctx *fasthttp.RequestCtx) {
	st := s.loaded(ctx)
	if st == nil {
		return
	}
	s.answerRows(ctx, st, "/predict", func(b []byte, rows [][]float64) ([]byte, error) {
		pred, err := safePredict(st.model, rows)
		if err != nil {
			return nil, fmt.Errorf("predicting %d rows: %w", len(rows), err)
		}
		b = append(b, `{"prediction":`...)
		b = appendLabels(b, pred)
		return append(b, "}\n"...), nil
	})
}

// handlePredictProba is POST /predict_proba.
func (s *Server) handlePredictProba(ctx *fasthttp.RequestCtx) {
	st := s.loaded(ctx)
	if st == nil {
		return
	}
	if st.clf == nil {
		writeError(ctx, http.StatusBadRequest, fmt.Errorf("%s is not a classifier: it has no class probabilities; use /predict", st.info.Estimator))
		return
	}
	s.answerRows(ctx, st, "/predict_proba", func(b []byte, rows [][]float64) ([]byte, error) {
		proba, err := safeProba(st.clf, rows)
		if err != nil {
			return nil, fmt.Errorf("predicting probabilities of %d rows: %w", len(rows), err)
		}
		b = append(b, `{"probabilities":[`...)
		for i, p := range proba {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloats(b, p)
		}
		b = append(b, `],"classes":`...)
		b = appendLabels(b, st.classes)
		return append(b, "}\n"...), nil
	})
}

// answerRows decodes the rows of a /predict or /predict_proba body and
// answers with what answer appends to a pooled buffer; an error from
// answer is the model failing on valid input.
func (s *Server) answerRows(ctx *fasthttp.RequestCtx, st *state, endpoint string, answer func(b []byte, rows [][]float64) ([]byte, error)) {
	f, fp, err := s.decodeRows(ctx, st)
	if err != nil {
		fail(ctx, err)
		return
	}
	defer putFloats(fp)
	out := getBuf()
	defer putBuf(out)
	b, err := answer(*out, f.rows)
	if err != nil {
		fail(ctx, err)
		return
	}
	*out = b
	s.metrics.rows.WithLabelValues(endpoint).Add(float64(len(f.rows)))
	writeBytes(ctx, http.StatusOK, b)
}

// handleLive is GET /healthz: the process is up.
func (s *Server) handleLive(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/v2/health/live" {
		writeBytes(ctx, http.StatusOK, []byte(`{"live":true}`+"\n"))
		return
	}
	writeBytes(ctx, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// handleReady is GET /readyz: the model is loaded and passed its
// self-check, and the server is not shutting down.
func (s *Server) handleReady(ctx *fasthttp.RequestCtx) {
	err := s.Ready()
	v2 := string(ctx.Path()) == "/v2/health/ready"
	switch {
	case err == nil && v2:
		writeBytes(ctx, http.StatusOK, []byte(`{"ready":true}`+"\n"))
	case err == nil:
		writeBytes(ctx, http.StatusOK, append(appendString([]byte(`{"status":"ready","model":`), s.o.name), "}\n"...))
	case v2:
		writeJSON(ctx, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
	default:
		writeJSON(ctx, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "error": err.Error()})
	}
}
