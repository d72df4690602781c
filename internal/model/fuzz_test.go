package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read: it must return a model or an
// error, never panic (the loader's recover turns a panic into an error
// that mentions "panicked", which fails here), and a loaded model must
// predict without panicking.
//
//	go test -fuzz=FuzzRead ./internal/model
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/models/*")
	hostile, _ := filepath.Glob("testdata/hostile/*.*")
	for _, s := range append(seeds, hostile...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		// Large seeds slow every fuzz iteration; the small models cover
		// every estimator and format.
		if len(data) > 64<<10 {
			continue
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read("fuzz.pkl", data)
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatal(err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.pkl: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := m.NumFeatures()
		if n <= 0 || n > 1<<16 {
			t.Fatalf("NumFeatures() = %d", n)
		}
		rows := [][]float64{make([]float64, n), make([]float64, n)}
		for j := range rows[1] {
			rows[1][j] = float64(j) - 1.5
		}
		if _, err := m.Predict(rows); err != nil && strings.Contains(err.Error(), "panicked") {
			t.Fatal(err)
		}
		if c, ok := m.(Classifier); ok {
			p, err := c.PredictProba(rows)
			if err == nil && (len(p) != 2 || len(p[0]) != len(c.Classes())) {
				t.Fatalf("PredictProba gave %d rows of %d for %d classes", len(p), len(p[0]), len(c.Classes()))
			}
		}
	})
}
