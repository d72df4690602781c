package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/model/modeltest"
)

// golden is one testdata/golden/*.json file written by make_fixtures.py.
type golden struct {
	Name           string     `json:"name"`
	Estimator      string     `json:"estimator"`
	Class          string     `json:"class"`
	SklearnVersion string     `json:"sklearn_version"`
	NFeatures      int        `json:"n_features"`
	Formats        []string   `json:"formats"`
	Rows           [][]string `json:"rows"`
	Edges          [][2]any   `json:"edges"`
	Classes        []any      `json:"classes"`
	Predict        []any      `json:"predict"`
	PredictProba   [][]string `json:"predict_proba"`
	AllowsNaN      bool       `json:"allows_nan"`
}

func loadGoldens(t testing.TB) []*golden {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var out []*golden
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		g := &golden{}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if err := dec.Decode(g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, g)
	}
	return out
}

func hexFloat(t testing.TB, s string) float64 { return modeltest.Float(t, s) }

// rows returns the ordinary rows followed by the threshold-edge rows.
func (g *golden) rows(t testing.TB) [][]float64 {
	edges := make([][]any, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = e[:]
	}
	return modeltest.Rows(t, g.Rows, edges)
}

// label decodes a golden class label: int, string, bool or {"f": hex}.
func (g *golden) label(t testing.TB, v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			t.Fatalf("%s: label %v: %v", g.Name, x, err)
		}
		return n
	case string, bool:
		return x
	case map[string]any:
		return hexFloat(t, x["f"].(string))
	}
	t.Fatalf("%s: label %#v", g.Name, v)
	return nil
}

// exact says whether scikit-learn's arithmetic can be replayed bit for bit:
// trees and forests, and gradient boosting regression, add and divide in an
// order strata copies. Models that go through BLAS (X @ coef_.T) or numpy's
// SIMD exp/log agree to rounding only.
func (g *golden) exact() bool {
	switch {
	case strings.HasPrefix(g.Estimator, "DecisionTree"), strings.HasPrefix(g.Estimator, "RandomForest"),
		strings.HasPrefix(g.Estimator, "ExtraTrees"), g.Estimator == "GradientBoostingRegressor",
		g.Estimator == "Pipeline(MinMaxScaler, RandomForestClassifier)":
		return true
	}
	return false
}

// closeTo compares floats to 1e-12 relative.
func closeTo(got, want float64) bool {
	if got == want || (math.IsNaN(got) && math.IsNaN(want)) {
		return true
	}
	return math.Abs(got-want) <= 1e-12*math.Max(math.Abs(got), math.Abs(want))
}

type floatStats struct {
	n, exact int
	maxRel   float64
}

func (s *floatStats) compare(t *testing.T, where string, got, want float64, exact bool) {
	t.Helper()
	s.n++
	if math.Float64bits(got) == math.Float64bits(want) || (math.IsNaN(got) && math.IsNaN(want)) {
		s.exact++
		return
	}
	if rel := math.Abs(got-want) / math.Max(math.Abs(got), math.Abs(want)); rel > s.maxRel {
		s.maxRel = rel
	}
	if exact || !closeTo(got, want) {
		t.Errorf("%s: got %v (%x), want %v (%x)", where, got, got, want, want)
	}
}

func TestGolden(t *testing.T) {
	for _, g := range loadGoldens(t) {
		t.Run(g.Name, func(t *testing.T) {
			rows := g.rows(t)
			var stats floatStats
			for _, format := range g.Formats {
				file := g.Name + "." + format
				m, err := Load(filepath.Join("testdata", "models", file))
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				checkGolden(t, g, file, m, rows, &stats)
			}
			if !g.exact() {
				t.Logf("%s: %d of %d floats bit-identical to scikit-learn, the rest within %.2g relative", g.Name, stats.exact, stats.n, stats.maxRel)
			}
		})
	}
}

func checkGolden(t *testing.T, g *golden, file string, m Model, rows [][]float64, stats *floatStats) {
	t.Helper()
	info := m.Info()
	if info.Estimator != g.Estimator || info.Class != g.Class || info.SklearnVersion != g.SklearnVersion || info.AllowsNaN != g.AllowsNaN {
		t.Errorf("%s: Info() = %+v, want %s %s %s allowsNaN=%v", file, info, g.Estimator, g.Class, g.SklearnVersion, g.AllowsNaN)
	}
	if m.NumFeatures() != g.NFeatures {
		t.Errorf("%s: NumFeatures() = %d, want %d", file, m.NumFeatures(), g.NFeatures)
	}
	pred, err := m.Predict(rows)
	if err != nil {
		t.Errorf("%s: Predict: %v", file, err)
		return
	}
	if len(pred) != len(g.Predict) {
		t.Fatalf("%s: %d predictions, want %d", file, len(pred), len(g.Predict))
	}
	c, isClassifier := m.(Classifier)
	if isClassifier != (g.Classes != nil) {
		t.Fatalf("%s: Classifier = %v, golden has classes: %v", file, isClassifier, g.Classes != nil)
	}
	if !isClassifier {
		for i, p := range pred {
			got, ok := p.(float64)
			if !ok {
				t.Fatalf("%s: prediction %d is %T, want float64", file, i, p)
			}
			stats.compare(t, fmt.Sprintf("%s: row %d", file, i), got, hexFloat(t, g.Predict[i].(string)), g.exact())
		}
		return
	}
	classes := c.Classes()
	if len(classes) != len(g.Classes) {
		t.Fatalf("%s: classes %v, want %v", file, classes, g.Classes)
	}
	for i, want := range g.Classes {
		if w := g.label(t, want); classes[i] != w {
			t.Errorf("%s: class %d = %#v, want %#v", file, i, classes[i], w)
		}
	}
	for i, p := range pred {
		if w := g.label(t, g.Predict[i]); p != w {
			t.Errorf("%s: row %d %v: predicted %#v, want %#v", file, i, rows[i], p, w)
		}
	}
	proba, err := c.PredictProba(rows)
	if err != nil {
		t.Fatalf("%s: PredictProba: %v", file, err)
	}
	for i, row := range proba {
		if len(row) != len(g.Classes) {
			t.Fatalf("%s: row %d has %d probabilities, want %d", file, i, len(row), len(g.Classes))
		}
		for j, p := range row {
			stats.compare(t, fmt.Sprintf("%s: row %d proba[%d]", file, i, j), p, hexFloat(t, g.PredictProba[i][j]), g.exact())
		}
	}
}

// Models are immutable after Load: many goroutines may predict at once
// (run with -race).
func TestConcurrentPredict(t *testing.T) {
	var models []Classifier
	for _, f := range []string{"rfc_iris.p5.pkl", "gbc_iris.p5.pkl", "lr_iris_multinomial.p5.pkl"} {
		m, err := Load(filepath.Join("testdata", "models", f))
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m.(Classifier))
	}
	rows := [][]float64{{5.1, 3.5, 1.4, 0.2}, {6.7, 3.0, 5.2, 2.3}, {5.9, 3.0, 4.2, 1.5}}
	want := make([][][]float64, len(models))
	for i, m := range models {
		p, err := m.PredictProba(rows)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = p
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for n := 0; n < 50; n++ {
				for i, m := range models {
					p, err := m.PredictProba(rows)
					if err != nil {
						done <- err
						return
					}
					for r := range p {
						for c := range p[r] {
							if p[r][c] != want[i][r][c] {
								done <- fmt.Errorf("model %d row %d: %v != %v", i, r, p[r], want[i][r])
								return
							}
						}
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
