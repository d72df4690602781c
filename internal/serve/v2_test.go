package serve

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestV2ServerMetadata(t *testing.T) {
	code, body := do(t, New(iris(), WithVersion("v1.2.3")), "GET", "/v2", "")
	var md struct {
		Name, Version string
		Extensions    []string
	}
	if err := json.Unmarshal([]byte(body), &md); code != 200 || err != nil || md.Name != "strata" || md.Version != "v1.2.3" || md.Extensions == nil {
		t.Fatalf("got %d %q: %v", code, body, err)
	}
}

type tensorMD struct {
	Name     string
	Datatype string
	Shape    []int64
}

func TestV2ModelMetadata(t *testing.T) {
	s := New(iris(), WithName("iris"))
	code, body := do(t, s, "GET", "/v2/models/iris", "")
	var md struct {
		Name, Platform  string
		Inputs, Outputs []tensorMD
		Parameters      map[string]any
	}
	if err := json.Unmarshal([]byte(body), &md); code != 200 || err != nil {
		t.Fatalf("got %d %q: %v", code, body, err)
	}
	if md.Name != "iris" || md.Platform != "sklearn" || len(md.Inputs) != 1 || md.Inputs[0].Datatype != "FP64" ||
		len(md.Inputs[0].Shape) != 2 || md.Inputs[0].Shape[0] != -1 || md.Inputs[0].Shape[1] != 4 {
		t.Fatalf("metadata %+v", md)
	}
	if len(md.Outputs) != 2 || md.Outputs[0].Name != "predict" || md.Outputs[0].Datatype != "INT64" ||
		md.Outputs[1].Name != "predict_proba" || md.Outputs[1].Shape[1] != 3 {
		t.Fatalf("outputs %+v", md.Outputs)
	}
	if md.Parameters["estimator"] != "FakeClassifier" || md.Parameters["sklearn_version"] != "1.2.1" {
		t.Fatalf("parameters %+v", md.Parameters)
	}

	// A regressor has one FP64 output.
	code, body = do(t, New(&fakeRegressor{nf: 2}), "GET", "/v2/models/model", "")
	if code != 200 || !strings.Contains(body, `"outputs":[{"name":"predict","datatype":"FP64","shape":[-1]}]`) {
		t.Fatalf("regressor: got %d %q", code, body)
	}
}

func TestV2UnknownModel(t *testing.T) {
	s := New(iris(), WithName("iris"))
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/models/other"},
		{"GET", "/v2/models/other/ready"},
		{"POST", "/v2/models/other/infer"},
	} {
		code, body := do(t, s, tc.method, tc.path, `{}`)
		if code != 404 || !strings.Contains(errorOf(t, body), `unknown model "other": this server serves "iris"`) {
			t.Errorf("%s %s: got %d %q", tc.method, tc.path, code, body)
		}
	}
	if code, body := do(t, s, "GET", "/v2/models/iris/ready", ""); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("ready: got %d %q", code, body)
	}
}

type inferResponse struct {
	ModelName string `json:"model_name"`
	ID        string
	Outputs   []struct {
		tensorMD
		Data []any
	}
}

func infer(t *testing.T, s *Server, body string) (int, inferResponse, string) {
	t.Helper()
	code, raw := do(t, s, "POST", "/v2/models/model/infer", body)
	var r inferResponse
	if code == 200 {
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatalf("response %q: %v", raw, err)
		}
	}
	return code, r, raw
}

func TestV2Infer(t *testing.T) {
	s := New(iris())
	for _, tc := range []struct{ name, body string }{
		{"flat", `{"id": "42", "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4, 2, 0, 0, 0]}]}`},
		{"nested", `{"id": "42", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [[1, 2, 3, 4], [2, 0, 0, 0]]}]}`},
		{"ints", `{"id": "42", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "INT64", "data": [[1, 2, 3, 4], [2, 0, 0, 0]]}]}`},
		{"lower-case datatype", `{"id": "42", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "fp64", "data": [1, 2, 3, 4, 2, 0, 0, 0]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r, raw := infer(t, s, tc.body)
			if code != 200 {
				t.Fatalf("got %d %q", code, raw)
			}
			if r.ModelName != "model" || r.ID != "42" || len(r.Outputs) != 1 {
				t.Fatalf("response %q", raw)
			}
			o := r.Outputs[0]
			if o.Name != "predict" || o.Datatype != "INT64" || len(o.Shape) != 1 || o.Shape[0] != 2 ||
				len(o.Data) != 2 || o.Data[0] != 1.0 || o.Data[1] != 2.0 {
				t.Fatalf("output %+v", o)
			}
		})
	}
}

func TestV2InferOneRowShape(t *testing.T) {
	code, r, raw := infer(t, New(iris()), `{"inputs": [{"name": "x", "shape": [4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}`)
	if code != 200 || r.Outputs[0].Shape[0] != 1 {
		t.Fatalf("got %d %q", code, raw)
	}
}

func TestV2InferProba(t *testing.T) {
	s := New(&fakeClassifier{nf: 1, classes: []any{"a", "b"}})
	code, r, raw := infer(t, s, `{"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP64", "data": [0, 1]}],
		"outputs": [{"name": "predict_proba"}, {"name": "predict"}]}`)
	if code != 200 || len(r.Outputs) != 2 {
		t.Fatalf("got %d %q", code, raw)
	}
	want := `"outputs":[{"name":"predict","datatype":"BYTES","shape":[2],"data":["a","b"]},` +
		`{"name":"predict_proba","datatype":"FP64","shape":[2,2],"data":[1.0,0.0,0.0,1.0]}]`
	if !strings.Contains(raw, want) {
		t.Fatalf("got %q, want %q", raw, want)
	}
	// Only predict_proba.
	code, r, raw = infer(t, s, `{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0]}], "outputs": [{"name": "predict_proba"}]}`)
	if code != 200 || len(r.Outputs) != 1 || r.Outputs[0].Name != "predict_proba" {
		t.Fatalf("got %d %q", code, raw)
	}
}

func TestV2InferBadInput(t *testing.T) {
	s := New(iris())
	reg := New(&fakeRegressor{nf: 4})
	in := func(shape, dt, data string) string {
		return `{"inputs": [{"name": "x", "shape": ` + shape + `, "datatype": "` + dt + `", "data": ` + data + `}]}`
	}
	for _, tc := range []struct {
		name string
		s    *Server
		body string
		want string
	}{
		{"empty body", s, ``, "empty body"},
		{"invalid JSON", s, `{"inputs": [`, "invalid inference request"},
		{"no inputs", s, `{"inputs": []}`, "has 0 inputs"},
		{"two inputs", s, `{"inputs": [{"name": "a"}, {"name": "b"}]}`, "has 2 inputs"},
		{"wrong features", s, in("[1, 3]", "FP64", "[1, 2, 3]"), "the model expects 4 features"},
		{"3-D shape", s, in("[1, 1, 4]", "FP64", "[1, 2, 3, 4]"), "the model expects shape [rows, 4]"},
		{"zero rows", s, in("[0, 4]", "FP64", "[]"), "at least one row"},
		{"negative rows", s, in("[-1, 4]", "FP64", "[]"), "at least one row"},
		{"count mismatch", s, in("[2, 4]", "FP64", "[1, 2, 3, 4]"), "but 4 values, not 2 rows of 4"},
		{"huge shape", s, in("[4611686018427387904, 4]", "FP64", "[1, 2, 3, 4]"), "not 4611686018427387904 rows"},
		{"bytes", s, in("[1, 4]", "BYTES", `["a", "b", "c", "d"]`), `datatype "BYTES"`},
		{"string value", s, in("[1, 4]", "FP64", `[1, "2", 3, 4]`), "value 1 of the input's \"data\" is a string"},
		{"null value", s, in("[1, 4]", "FP64", `[1, null, 3, 4]`), "value 1 of the input's \"data\" is null"},
		{"data not array", s, in("[1, 4]", "FP64", `"1234"`), "is a string, not an array"},
		{"no data", s, `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64"}]}`, "has no data"},
		{"fraction in INT", s, in("[1, 4]", "INT32", `[1, 2.5, 3, 4]`), "value 1 is 2.5, not an integer"},
		{"unknown output", s, in("[1, 4]", "FP64", `[1, 2, 3, 4]`)[:len(in("[1, 4]", "FP64", `[1, 2, 3, 4]`))-1] + `, "outputs": [{"name": "logits"}]}`, `unknown output "logits"`},
		{"proba of regressor", reg, `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}], "outputs": [{"name": "predict_proba"}]}`, "FakeRegressor is not a classifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.s, "POST", "/v2/models/model/infer", tc.body)
			if code != 400 {
				t.Fatalf("got %d %q", code, body)
			}
			if msg := errorOf(t, body); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not say %q", msg, tc.want)
			}
		})
	}
}

func TestV2InferBool(t *testing.T) {
	m := &fakeClassifier{nf: 2, classes: []any{true, false}}
	code, r, raw := infer(t, New(m), `{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "BOOL", "data": [true, false, false, true]}]}`)
	if code != 200 || r.Outputs[0].Datatype != "BOOL" || r.Outputs[0].Data[0] != false || r.Outputs[0].Data[1] != true {
		t.Fatalf("got %d %q", code, raw)
	}
}
