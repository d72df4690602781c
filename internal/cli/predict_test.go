package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/model"
	"github.com/strata-ml/strata/internal/model/modeltest"
)

// golden is a fixture model's rows and scikit-learn's predictions of them.
type golden struct {
	rows    [][]float64
	predict []any // float64 (from a hex string) for regressors
	classes []any
	proba   [][]float64
}

func loadGolden(t *testing.T, name string) golden {
	t.Helper()
	b, err := os.ReadFile(modeltest.GoldenPath(name))
	if err != nil {
		t.Skipf("no fixture: %v", err)
	}
	var raw struct {
		Rows    [][]string `json:"rows"`
		Edges   [][]any    `json:"edges"`
		Predict []any      `json:"predict"`
		Classes []any      `json:"classes"`
		Proba   [][]string `json:"predict_proba"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	g := golden{rows: modeltest.Rows(t, raw.Rows, raw.Edges)}
	for _, p := range raw.Predict {
		if s, ok := p.(string); ok && strings.HasPrefix(strings.TrimPrefix(s, "-"), "0x") {
			p = modeltest.Float(t, s)
		}
		g.predict = append(g.predict, p)
	}
	g.classes = raw.Classes
	for _, r := range raw.Proba {
		row := make([]float64, len(r))
		for i, s := range r {
			row[i] = modeltest.Float(t, s)
		}
		g.proba = append(g.proba, row)
	}
	return g
}

func modelPath(t *testing.T, file string) string { return modeltest.ModelPath(t, file) }

// run runs strata with args and stdin, and returns its exit status, stdout
// and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func csvRows(rows [][]float64, header bool) string {
	var b strings.Builder
	if header {
		for i := range rows[0] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "x%d", i)
		}
		b.WriteByte('\n')
	}
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func jsonRows(rows [][]float64) string {
	b, _ := json.Marshal(rows)
	return string(b)
}

// labels parses predict's CSV output.
func labels(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "prediction" {
		t.Fatalf("no header: %q", out)
	}
	return lines[1:]
}

func TestPredictMatchesSklearn(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"rfc_iris", "rfc_iris.p5.pkl"},
		{"etc_wine_str", "etc_wine_str.joblib"},
		{"rfr_diabetes", "rfr_diabetes.joblib"},
		{"pipe_std_lr_bc", "pipe_std_lr_bc.p5.pkl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := loadGolden(t, tc.name)
			path := modelPath(t, tc.file)
			for _, in := range []struct{ name, data string }{
				{"csv with header", csvRows(g.rows, true)},
				{"csv", csvRows(g.rows, false)},
			} {
				code, out, errs := run(t, in.data, "predict", path)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", in.name, code, errs)
				}
				got := labels(t, out)
				if len(got) != len(g.predict) {
					t.Fatalf("%s: %d predictions for %d rows", in.name, len(got), len(g.predict))
				}
				for i, want := range g.predict {
					if f, ok := want.(float64); ok {
						if v, err := strconv.ParseFloat(got[i], 64); err != nil || v != f {
							t.Fatalf("%s: row %d: got %s, want %v exactly", in.name, i, got[i], f)
						}
					} else if got[i] != fmt.Sprint(want) {
						t.Fatalf("%s: row %d: got %s, want %v", in.name, i, got[i], want)
					}
				}
			}
			// JSON in, JSON lines out, the same predictions.
			code, out, errs := run(t, jsonRows(g.rows), "predict", path, "--chunk-size", "7")
			if code != 0 {
				t.Fatalf("json: exit %d: %s", code, errs)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(g.predict) {
				t.Fatalf("json: %d lines for %d rows", len(lines), len(g.predict))
			}
			for i, l := range lines {
				var p struct{ Prediction any }
				if err := json.Unmarshal([]byte(l), &p); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				if fmt.Sprint(p.Prediction) != fmt.Sprint(g.predict[i]) {
					t.Fatalf("json: row %d: got %v, want %v", i, p.Prediction, g.predict[i])
				}
			}
		})
	}
}

func TestPredictProba(t *testing.T) {
	g := loadGolden(t, "rfc_iris")
	path := modelPath(t, "rfc_iris.p5.pkl")
	code, out, errs := run(t, csvRows(g.rows, true), "predict", "--proba", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "0,1,2" || len(lines) != len(g.proba)+1 {
		t.Fatalf("output %q", out)
	}
	for i, l := range lines[1:] {
		for j, f := range strings.Split(l, ",") {
			if v, err := strconv.ParseFloat(f, 64); err != nil || v != g.proba[i][j] {
				t.Fatalf("row %d, class %d: got %s, want %v", i, j, f, g.proba[i][j])
			}
		}
	}
	code, out, _ = run(t, csvRows(g.rows[:1], false), "predict", "--proba", "--format", "json", path)
	var p struct{ Probabilities []float64 }
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || len(p.Probabilities) != 3 || p.Probabilities[1] != g.proba[0][1] {
		t.Fatalf("json: %d %q", code, out)
	}
}

func TestPredictInputs(t *testing.T) {
	path := modelPath(t, "rfc_iris.p5.pkl")
	row := "5.1, 3.5, 1.4, 0.2"
	for _, tc := range []struct{ name, stdin, want string }{
		{"json lines of rows", "[" + row + "]\n[" + row + "]\n", "{\"prediction\":0}\n{\"prediction\":0}\n"},
		{"json objects", `{"features": [` + row + `]} {"features": [[` + row + `], [6.7, 3.0, 5.2, 2.3]]}`, "{\"prediction\":0}\n{\"prediction\":0}\n{\"prediction\":2}\n"},
		{"array of objects", `[{"features": [` + row + `]}]`, "{\"prediction\":0}\n"},
		{"one row", "[" + row + "]", "{\"prediction\":0}\n"},
		{"empty array", "[]", ""},
		{"empty csv", "", "prediction\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.stdin, "predict", path)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, got %q, want %q: %s", code, out, tc.want, errs)
			}
		})
	}
	// --input with a file, and --format.
	dir := t.TempDir()
	file := filepath.Join(dir, "rows.json")
	if err := os.WriteFile(file, []byte("[["+row+"]]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, "", "predict", path, "--input", file, "--format", "csv"); code != 0 || out != "prediction\n0\n" {
		t.Fatalf("--input: exit %d, %q: %s", code, out, errs)
	}
}

func TestPredictBadInput(t *testing.T) {
	path := modelPath(t, "rfc_iris.p5.pkl")
	reg := modelPath(t, "rfr_diabetes.joblib")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"wrong width csv", "1,2,3,4\n1,2,3\n", nil, "stdin:2: the row has 3 features, the model expects 4"},
		{"not a number", "1,2,3,4\n1,x,3,4\n", nil, `stdin:2: feature 2: "x" is not a number`},
		{"missing value", "1,2,3,4\n1,,3,4\n", nil, "stdin:2: feature 2: \"\" is a missing value, and this model does not accept missing values"},
		{"infinite", "1,2,3,inf\n", nil, `"inf" is infinite`},
		{"wrong width json", "[[1, 2, 3, 4], [1, 2]]", nil, "value 2: the row has 2 features, the model expects 4"},
		{"invalid json", "[[1, 2, 3, 4], [1, 2", nil, "invalid JSON"},
		{"string in json", `[[1, 2, 3, "4"]]`, nil, "features[3] is a string, not a number"},
		{"no features", `{"rows": [1, 2, 3, 4]}`, nil, `the object has no "features"`},
		{"bad format", "", []string{"--format", "xml"}, `invalid --format "xml"`},
		{"missing file", "", []string{"--input", "/nonexistent/rows.csv"}, "opening the input"},
		{"proba of a regressor", "", []string{"--proba", reg}, "RandomForestRegressor is not a classifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"predict"}, tc.args...)
			if len(tc.args) == 0 || tc.args[len(tc.args)-1] != reg {
				args = append(args, path)
			}
			code, _, errs := run(t, tc.stdin, args...)
			if code != 1 || !strings.Contains(errs, tc.want) || !strings.HasPrefix(errs, "Error: ") {
				t.Fatalf("exit %d, stderr %q, want %q", code, errs, tc.want)
			}
		})
	}
	if code, _, errs := run(t, "", "predict", "/nonexistent.pkl"); code != 1 || !strings.Contains(errs, "loading the model") {
		t.Fatalf("missing model: exit %d: %s", code, errs)
	}
}

func TestPredictStreamsInChunks(t *testing.T) {
	// More rows than a chunk, with a bad row at the end: every row before
	// it is predicted and written when the error comes.
	path := modelPath(t, "rfc_iris.p5.pkl")
	var in strings.Builder
	for range 10 {
		in.WriteString("5.1,3.5,1.4,0.2\n")
	}
	in.WriteString("1,2\n")
	code, out, errs := run(t, in.String(), "predict", "--chunk-size", "4", path)
	if code != 1 || !strings.Contains(errs, "stdin:11") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != "prediction\n"+strings.Repeat("0\n", 10) {
		t.Fatalf("output %q", out)
	}
}

func TestPredictNaN(t *testing.T) {
	path := modelPath(t, "rfc_iris.p5.pkl")
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "NaN,3.5,1.4,0.2\n,1,1,1\n", "predict", path)
	if m.Info().AllowsNaN {
		if code != 0 || len(labels(t, out)) != 2 {
			t.Fatalf("exit %d, %q: %s", code, out, errs)
		}
		return
	}
	if code != 1 || !strings.Contains(errs, "does not accept missing values") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
