package serve

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// nopWriter is a ResponseWriter that discards, so that the benchmark
// measures the server, not httptest's recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, s *Server, path, body string) {
	b.Helper()
	r := httptest.NewRequest("POST", path, nil)
	w := &nopWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset([]byte(body))
		r.Body = readCloser{rd}
		r.ContentLength = int64(len(body))
		s.ServeHTTP(w, r)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkServePredict is the server's own cost per request, around a
// model that costs next to nothing.
func BenchmarkServePredict(b *testing.B) {
	b.Run("fake", func(b *testing.B) {
		benchHandler(b, New(iris()), "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	})
	b.Run("rfc_iris", func(b *testing.B) {
		benchHandler(b, New(loadFixture(b, "rfc_iris.p5.pkl")), "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	})
}
