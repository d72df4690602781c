package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/model"
	"github.com/strata-ml/strata/internal/model/modeltest"
)

// These tests serve the real fixtures of internal/model and compare the
// answers with scikit-learn's predictions, recorded in its golden files.

func loadFixture(t testing.TB, file string) model.Model {
	t.Helper()
	m, err := model.Load(modeltest.ModelPath(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type goldenFile struct {
	Rows    [][]string `json:"rows"`
	Edges   [][]any    `json:"edges"`
	Predict []any      `json:"predict"`
	Classes []any      `json:"classes"`
	Proba   [][]string `json:"predict_proba"`
}

// goldenRows returns a fixture's rows (with make_fixtures.py's edge rows)
// and the golden file.
func goldenRows(t *testing.T, name string) ([][]float64, goldenFile) {
	t.Helper()
	b, err := os.ReadFile(modeltest.GoldenPath(name))
	if err != nil {
		t.Skipf("no fixture: %v", err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	rows := modeltest.Rows(t, g.Rows, g.Edges)
	return rows, g
}

func TestFixtureArticle(t *testing.T) {
	s := New(loadFixture(t, "rfc_iris.p5.pkl"), WithName("iris"))
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, s, "POST", "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	if code != 200 || body != `{"prediction":[0]}`+"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestFixturesMatchSklearn(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"rfc_iris", "rfc_iris.p5.pkl"},
		{"etc_wine_str", "etc_wine_str.joblib"},
		{"rfr_diabetes", "rfr_diabetes.p5.pkl"},
		{"gbc_iris", "gbc_iris.joblib"},
		{"pipe_std_lr_bc", "pipe_std_lr_bc.p5.pkl"},
		{"dtc_bc_bool", "dtc_bc_bool.joblib"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadFixture(t, tc.file)
			rows, g := goldenRows(t, tc.name)
			s := New(m)
			body, err := json.Marshal(map[string]any{"features": rows})
			if err != nil {
				t.Fatal(err)
			}
			code, resp := do(t, s, "POST", "/predict", string(body))
			if code != 200 {
				t.Fatalf("got %d %q", code, resp)
			}
			var got struct{ Prediction []json.RawMessage }
			if err := json.Unmarshal([]byte(resp), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Prediction) != len(g.Predict) {
				t.Fatalf("%d predictions for %d rows", len(got.Prediction), len(g.Predict))
			}
			for i, want := range g.Predict {
				raw := string(got.Prediction[i])
				if s, ok := want.(string); ok && strings.Contains(s, "0x") {
					// A regressor: the float must round-trip exactly.
					if v, err := strconv.ParseFloat(raw, 64); err != nil || v != modeltest.Float(t, s) {
						t.Fatalf("row %d: got %s, want %v", i, raw, modeltest.Float(t, s))
					}
					continue
				}
				w, _ := json.Marshal(want)
				if raw != string(w) {
					t.Fatalf("row %d: got %s, want %s (labels keep their JSON type)", i, raw, w)
				}
			}
			if g.Proba == nil {
				if code, _ := do(t, s, "POST", "/predict_proba", string(body)); code != 400 {
					t.Fatalf("predict_proba of a regressor: %d", code)
				}
				return
			}
			code, resp = do(t, s, "POST", "/predict_proba", string(body))
			var pr struct {
				Probabilities [][]float64
				Classes       []any
			}
			if err := json.Unmarshal([]byte(resp), &pr); code != 200 || err != nil {
				t.Fatalf("predict_proba: %d %q", code, resp)
			}
			if fmt.Sprint(pr.Classes) != fmt.Sprint(g.Classes) {
				t.Fatalf("classes %v, want %v", pr.Classes, g.Classes)
			}
			// The server's numbers are the model's exactly, and the model's
			// are scikit-learn's to within rounding (exactly for trees).
			direct, err := m.(model.Classifier).PredictProba(rows)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range g.Proba {
				for j, h := range row {
					got, want := pr.Probabilities[i][j], modeltest.Float(t, h)
					if got != direct[i][j] {
						t.Fatalf("proba[%d][%d] = %v, the model says %v", i, j, got, direct[i][j])
					}
					if math.Abs(got-want) > 1e-12 {
						t.Fatalf("proba[%d][%d] = %v, scikit-learn says %v", i, j, got, want)
					}
				}
			}
		})
	}
}

func TestFixtureV2(t *testing.T) {
	s := New(loadFixture(t, "etc_wine_str.joblib"), WithName("wine"))
	rows, g := goldenRows(t, "etc_wine_str")
	body, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "x", "shape": []int{3, 13}, "datatype": "FP64", "data": rows[:3]}},
		"outputs": []any{map[string]string{"name": "predict"}, map[string]string{"name": "predict_proba"}},
	})
	code, resp := do(t, s, "POST", "/v2/models/wine/infer", string(body))
	if code != 200 {
		t.Fatalf("got %d %q", code, resp)
	}
	want, _ := json.Marshal(g.Predict[:3])
	if !strings.Contains(resp, `{"name":"predict","datatype":"BYTES","shape":[3],"data":`+string(want)+`}`) {
		t.Fatalf("got %s, want labels %s", resp, want)
	}
	code, resp = do(t, s, "GET", "/v2/models/wine", "")
	if code != 200 || !strings.Contains(resp, `"shape":[-1,13]`) || !strings.Contains(resp, `"estimator":"ExtraTreesClassifier"`) {
		t.Fatalf("metadata: %d %s", code, resp)
	}
}

func TestFixtureNaN(t *testing.T) {
	m := loadFixture(t, "dtc_iris_sk13.p5.pkl")
	s := New(m)
	code, body := do(t, s, "POST", "/predict", `{"features": [[null, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4, 0.2]]}`)
	if m.Info().AllowsNaN {
		if code != 200 {
			t.Fatalf("a model that allows NaN: %d %q", code, body)
		}
	} else if code != 400 {
		t.Fatalf("a model that does not allow NaN: %d %q", code, body)
	}
	if code, _ := do(t, New(loadFixture(t, "rfc_iris.p5.pkl")), "POST", "/predict", `{"features": [null, 3.5, 1.4, 0.2]}`); code != 400 {
		t.Fatalf("rfc_iris with null: %d", code)
	}
}
