package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestDecodeFeatures(t *testing.T) {
	for _, tc := range []struct {
		body   string
		nf     int
		rows   [][]float64
		single bool
	}{
		{`{"features": [5.1, 3.5, 1.4, 0.2]}`, 4, [][]float64{{5.1, 3.5, 1.4, 0.2}}, true},
		{`{"features":[[1,2],[3,4],[5,6]]}`, 2, [][]float64{{1, 2}, {3, 4}, {5, 6}}, false},
		{` {"a":1, "features" : [ -0.0 , 1e3, 2E-2, 123456789012345678901234567890, -1.5e+2 ] } `, 5, [][]float64{{math.Copysign(0, -1), 1000, 0.02, 1.2345678901234568e29, -150}}, true},
		{`{"features": [[1, 2, 3]]}`, 0, [][]float64{{1, 2, 3}}, false},      // nf 0: any width, but one width
		{`{"features": [1], "features": [[2]]}`, 1, [][]float64{{2}}, false}, // the last one wins, as in encoding/json
		{`{"feat\u0075res": [7]}`, 1, [][]float64{{7}}, true},
		{`{"features": [0.1, 0.30000000000000004, 4.9406564584124654e-324, 1.7976931348623157e308]}`, 4,
			[][]float64{{0.1, 0.30000000000000004, 5e-324, math.MaxFloat64}}, true},
	} {
		f, err := decodeFeatures([]byte(tc.body), tc.nf, false, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if f.single != tc.single || fmt.Sprint(f.rows) != fmt.Sprint(tc.rows) {
			t.Errorf("%s: got %v (single %v), want %v", tc.body, f.rows, f.single, tc.rows)
		}
	}
}

func TestDecodeFeaturesWidthWithoutModel(t *testing.T) {
	_, err := decodeFeatures([]byte(`{"features": [[1, 2], [1, 2, 3]]}`), 0, false, nil)
	if err == nil || !strings.Contains(err.Error(), "row 2 (features[1]) has 3 features, the first row has 2") {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeDeepNesting(t *testing.T) {
	// Deep nesting elsewhere in the body is checked without recursion and
	// bounded.
	deep := `{"x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `, "features": [1]}`
	if _, err := decodeFeatures([]byte(deep), 1, false, nil); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("got %v", err)
	}
	ok := `{"x": ` + strings.Repeat(`[{"a":`, 100) + "1" + strings.Repeat("}]", 100) + `, "features": [1]}`
	if _, err := decodeFeatures([]byte(ok), 1, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFastFloatMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "-0", "5.1", "3.5", "0.2", "123456789012345", "0.000000000000000000001",
		"1.000000000000001", "999999999999999.9", "-7.25", "0.1234567890123"} {
		d := decoder{data: []byte(s)}
		v, err := d.number()
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(v) != math.Float64bits(want) {
			t.Errorf("%s: got %v, want %v", s, v, want)
		}
	}
}

func TestDecodeTensor(t *testing.T) {
	for _, tc := range []struct {
		data  string
		bools bool
		want  string
		err   string
	}{
		{`[1, 2, 3]`, false, "[1 2 3]", ""},
		{`[[1, 2], [3, [4]], []]`, false, "[1 2 3 4]", ""},
		{`[true, false]`, true, "[1 0]", ""},
		{`[true, false]`, false, "", "value 0 of the input's \"data\" is a boolean"},
		{`[1, 2`, false, "", "invalid JSON"},
		{`[1] 2`, false, "", "invalid JSON"},
		{`{"a": 1}`, false, "", "is an object, not an array"},
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), false, "", "nested too deeply"},
	} {
		got, err := decodeTensor([]byte(tc.data), tc.bools, false, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want error %q", tc.data, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("%s: got %v %v, want %s", tc.data, got, err, tc.want)
		}
	}
}

// reference decodes a /predict body with encoding/json: the rows, and
// whether the body is acceptable.
func reference(body []byte, nf int, allowNaN bool) (rows [][]float64, single bool, ok bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, false, false
	}
	raw, found := top["features"]
	if !found {
		return nil, false, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, false
	}
	arr, isArr := v.([]any)
	if !isArr || len(arr) == 0 {
		return nil, false, false
	}
	row := func(a []any) ([]float64, bool) {
		out := make([]float64, 0, len(a))
		for _, x := range a {
			switch x := x.(type) {
			case float64:
				out = append(out, x)
			case nil:
				if !allowNaN {
					return nil, false
				}
				out = append(out, math.NaN())
			default:
				return nil, false
			}
		}
		return out, len(out) > 0 && (nf <= 0 || len(out) == nf)
	}
	if _, batch := arr[0].([]any); !batch {
		r, ok := row(arr)
		return [][]float64{r}, true, ok
	}
	for _, x := range arr {
		a, isArr := x.([]any)
		if !isArr {
			return nil, false, false
		}
		r, ok := row(a)
		if !ok || (len(rows) > 0 && len(r) != len(rows[0])) {
			return nil, false, false
		}
		rows = append(rows, r)
	}
	return rows, false, true
}

// duplicateFeatures reports whether the top-level object has "features"
// more than once: encoding/json then keeps the last, while decodeFeatures
// may fail on an earlier one.
func duplicateFeatures(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if tok == "features" {
			n++
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return n > 1
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// FuzzDecodeFeatures checks decodeFeatures against encoding/json: it
// accepts a body exactly when encoding/json does (and the shape is right),
// with the same numbers, and fails only with a 400's inputError.
func FuzzDecodeFeatures(f *testing.F) {
	for _, seed := range []string{
		`{"features": [5.1, 3.5, 1.4, 0.2]}`,
		`{"features": [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]}`,
		`{"features": [[1, null], [null, 2]]}`,
		`{"id": {"a": [1, "x\u00e9\"", true, false, null]}, "features": [-0.0, 1e-300, 1E+2]}`,
		`{"features": [1, 2, 3,]}`,
		`{"features": [[1], [1, 2]]}`,
		`{"features": "x"}`,
		`{"features": [1], "features": [[2]]}`,
		`[1, 2]`,
		``,
		`{"features": [1e400]}`,
		`{"features": [01]}`,
		`{"feat\u0075res": [7]}`,
	} {
		f.Add([]byte(seed), uint8(0), false)
		f.Add([]byte(seed), uint8(4), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, nf uint8, allowNaN bool) {
		n := int(nf % 6)
		got, err := decodeFeatures(body, n, allowNaN, nil)
		rows, single, ok := reference(body, n, allowNaN)
		if err != nil {
			var in *inputError
			if !errors.As(err, &in) {
				t.Fatalf("%q: error %v is not an input error", body, err)
			}
			if ok && !duplicateFeatures(body) {
				t.Fatalf("%q (nf %d, NaN %v): rejected (%v) but encoding/json accepts %v", body, n, allowNaN, err, rows)
			}
			return
		}
		if !ok {
			t.Fatalf("%q (nf %d, NaN %v): accepted as %v but encoding/json rejects it", body, n, allowNaN, got.rows)
		}
		if got.single != single || len(got.rows) != len(rows) {
			t.Fatalf("%q: got %v (single %v), encoding/json %v (single %v)", body, got.rows, got.single, rows, single)
		}
		for i := range rows {
			if !sameFloats(got.rows[i], rows[i]) {
				t.Fatalf("%q: row %d is %v, encoding/json %v", body, i, got.rows[i], rows[i])
			}
		}
	})
}

// batchBody is a /predict body of n iris-like rows.
func batchBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"features": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[%.1f, %.1f, %.1f, %.1f]", 4.3+float64(i%36)/10, 2+float64(i%24)/10, 1+float64(i%59)/10, 0.1+float64(i%25)/10)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// decodeStd is the encoding/json path the scanner replaces: the body into
// json.RawMessage, then the features into [][]float64 or []float64.
func decodeStd(body []byte) ([][]float64, error) {
	var req struct {
		Features json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(req.Features)
	if len(raw) > 1 && raw[0] == '[' && bytes.TrimSpace(raw[1:])[0] == '[' {
		var rows [][]float64
		err := json.Unmarshal(raw, &rows)
		return rows, err
	}
	var row []float64
	err := json.Unmarshal(raw, &row)
	return [][]float64{row}, err
}

func BenchmarkDecodeFeatures(b *testing.B) {
	for _, n := range []int{1, 10000} {
		body := []byte(`{"features": [5.1, 3.5, 1.4, 0.2]}`)
		if n > 1 {
			body = batchBody(n)
		}
		b.Run(fmt.Sprintf("scanner/rows=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var flat []float64
			for b.Loop() {
				f, err := decodeFeatures(body, 4, false, flat)
				if err != nil {
					b.Fatal(err)
				}
				flat = f.flat
			}
		})
		b.Run(fmt.Sprintf("encoding-json/rows=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeStd(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzServeBody sends any body to the endpoints that take one: the answer
// is always a 200 or a 400 with valid JSON, never a crash or a 500.
func FuzzServeBody(f *testing.F) {
	f.Add([]byte(`{"features": [5.1, 3.5, 1.4, 0.2]}`), uint8(0))
	f.Add([]byte(`{"features": [[5.1, 3.5, 1.4, null]]}`), uint8(1))
	f.Add([]byte(`{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [[1, 2], [3, 4]]}], "outputs": [{"name": "predict_proba"}]}`), uint8(2))
	f.Add([]byte(`{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "BOOL", "data": [true, false, 1, 0, 1, 1, 1, 1]}]}`), uint8(2))
	m := iris()
	m.nan = true
	s := New(m)
	paths := []string{"/predict", "/predict_proba", "/v2/models/model/infer"}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		path := paths[int(which)%len(paths)]
		code, resp := do(t, s, "POST", path, string(body))
		if code != 200 && code != 400 {
			t.Fatalf("%s %q: %d %s", path, body, code, resp)
		}
		if !json.Valid([]byte(resp)) {
			t.Fatalf("%s %q: invalid JSON answer %q", path, body, resp)
		}
	})
}
