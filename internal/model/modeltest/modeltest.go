// Package modeltest reads the model fixtures that internal/model's
// make_fixtures.py writes, for the tests of every package that serves or
// scores those models.
package modeltest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// Dir is the fixtures' directory (internal/model/testdata), found from this
// file, so tests in any package can use it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// ModelPath is the path of a fixture model; the test is skipped if it is
// missing.
func ModelPath(t testing.TB, file string) string {
	t.Helper()
	p := filepath.Join(Dir(), "models", file)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no fixture: %v", err)
	}
	return p
}

// GoldenPath is the path of a fixture's golden predictions.
func GoldenPath(name string) string { return filepath.Join(Dir(), "golden", name+".json") }

// Float parses a golden float: a hex float ("0x1.8p+1"), or "nan", "inf",
// "-inf".
func Float(t testing.TB, s string) float64 {
	t.Helper()
	switch s {
	case "nan":
		return math.NaN()
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad golden float %q: %v", s, err)
	}
	return f
}

// Rows are a golden file's input rows: the ordinary rows, then rows[0] once
// per threshold edge with feature f set to the edge value (make_fixtures.py's
// with_edges). An edge is [feature, value], the feature a JSON number
// decoded as float64 or json.Number.
func Rows(t testing.TB, rows [][]string, edges [][]any) [][]float64 {
	t.Helper()
	var out [][]float64
	for _, r := range rows {
		row := make([]float64, len(r))
		for j, s := range r {
			row[j] = Float(t, s)
		}
		out = append(out, row)
	}
	for _, e := range edges {
		if len(e) != 2 {
			t.Fatalf("bad golden edge %v", e)
		}
		var f int
		switch x := e[0].(type) {
		case float64:
			f = int(x)
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				t.Fatal(err)
			}
			f = int(n)
		default:
			t.Fatalf("bad golden edge feature %#v", e[0])
		}
		v, _ := e[1].(string)
		row := append([]float64(nil), out[0]...)
		row[f] = Float(t, v)
		out = append(out, row)
	}
	return out
}
