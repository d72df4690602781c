package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// do sends a request to s's handler and returns the status and body.
func do(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	ctx := request(s, method, path, body)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// request runs one request through s's handler, as its server would, and
// returns the request's context, response included.
func request(s *Server, method, path, body string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.SetBodyString(body)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}, nil)
	s.Handler(ctx)
	return ctx
}

// errorOf decodes {"error": "..."}, failing the test for any other body.
func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not {\"error\": ...}: %v", body, err)
	}
	return e.Error
}

func TestPredictArticleContract(t *testing.T) {
	s := New(&fakeClassifier{nf: 4, classes: []any{int64(0), int64(1), int64(2), int64(3), int64(4), int64(7)}})
	code, body := do(t, s, "POST", "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	if code != 200 || body != `{"prediction":[7]}`+"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestPredictBatch(t *testing.T) {
	s := New(iris())
	code, body := do(t, s, "POST", "/predict", `{"features": [[0, 1, 2, 3], [1, 0, 0, 0], [2.9, 0, 0, 0], [-4, 0, 0, 0]]}`)
	if code != 200 || body != `{"prediction":[0,1,2,1]}`+"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestPredictLabelTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *fakeClassifier
		want string
	}{
		{"strings", &fakeClassifier{nf: 1, classes: []any{"setosa", `ver"si<color>`}}, `["setosa","ver\"si\u003ccolor\u003e"]`},
		{"floats", &fakeClassifier{nf: 1, classes: []any{0.0, 2.5}}, `[0.0,2.5]`},
		{"bools", &fakeClassifier{nf: 1, classes: []any{false, true}}, `[false,true]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, New(tc.m), "POST", "/predict", `{"features": [[0], [1]]}`)
			if want := `{"prediction":` + tc.want + "}\n"; code != 200 || body != want {
				t.Fatalf("got %d %q, want %q", code, body, want)
			}
		})
	}
}

func TestPredictRegressorFloatsRoundTrip(t *testing.T) {
	s := New(&fakeRegressor{nf: 2})
	code, body := do(t, s, "POST", "/predict", `{"features": [[0.1, 0.2], [1, 2], [1e300, 1e300], [1e-7, 0], [-0.5, 0]]}`)
	if code != 200 {
		t.Fatalf("got %d %q", code, body)
	}
	if want := `{"prediction":[0.30000000000000004,3.0,2e+300,1e-7,-0.5]}` + "\n"; body != want {
		t.Fatalf("got %q, want %q", body, want)
	}
	var got struct{ Prediction []float64 }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	a, b, big := 0.1, 0.2, 1e300
	if got.Prediction[0] != a+b || got.Prediction[2] != big+big {
		t.Fatalf("floats did not round-trip: %v", got.Prediction)
	}
}

func TestPredictProba(t *testing.T) {
	s := New(&fakeClassifier{nf: 2, classes: []any{"a", "b", "c"}})
	code, body := do(t, s, "POST", "/predict_proba", `{"features": [2, 0]}`)
	if want := `{"probabilities":[[0.0,0.0,1.0]],"classes":["a","b","c"]}` + "\n"; code != 200 || body != want {
		t.Fatalf("got %d %q, want %q", code, body, want)
	}
	code, body = do(t, s, "POST", "/predict_proba", `{"features": [[0, 0], [1, 0]]}`)
	if want := `{"probabilities":[[1.0,0.0,0.0],[0.0,1.0,0.0]],"classes":["a","b","c"]}` + "\n"; code != 200 || body != want {
		t.Fatalf("got %d %q, want %q", code, body, want)
	}
}

func TestPredictProbaRegressor(t *testing.T) {
	code, body := do(t, New(&fakeRegressor{nf: 2}), "POST", "/predict_proba", `{"features": [1, 2]}`)
	if code != 400 || !strings.Contains(errorOf(t, body), "FakeRegressor is not a classifier") {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestBadInput(t *testing.T) {
	s := New(iris())
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"empty body", ``, 400, "empty body"},
		{"whitespace body", " \n\t", 400, "empty body"},
		{"invalid JSON", `{"features": [1, 2,`, 400, "invalid JSON"},
		{"trailing garbage", `{"features": [1, 2, 3, 4]} x`, 400, "invalid JSON at byte 27"},
		{"not an object", `[1, 2, 3, 4]`, 400, "must be a JSON object"},
		{"missing features", `{"feature": [1, 2, 3, 4]}`, 400, `missing "features"`},
		{"features null", `{"features": null}`, 400, `"features" is null`},
		{"features string", `{"features": "1,2,3,4"}`, 400, `"features" is a string`},
		{"empty row", `{"features": []}`, 400, `"features" is empty`},
		{"empty batch row", `{"features": [[]]}`, 400, "row 1 (features[0]) is empty"},
		{"too few features", `{"features": [1, 2, 3]}`, 400, `"features" has 3 values, the model expects 4`},
		{"too many features", `{"features": [1, 2, 3, 4, 5]}`, 400, `"features" has 5 values, the model expects 4`},
		{"ragged batch", `{"features": [[1, 2, 3, 4], [1, 2, 3]]}`, 400, "row 2 (features[1]) has 3 features, the model expects 4"},
		{"string feature", `{"features": [1, "2", 3, 4]}`, 400, "features[1] is a string, not a number"},
		{"bool feature", `{"features": [[1, 2, 3, 4], [1, 2, true, 4]]}`, 400, "row 2, feature 3 (features[1][2]) is a boolean, not a number"},
		{"null without NaN", `{"features": [1, null, 3, 4]}`, 400, "features[1] is null, and this model does not accept missing values"},
		{"mixed row and batch", `{"features": [1, [2], 3, 4]}`, 400, "not both"},
		{"number in batch", `{"features": [[1, 2, 3, 4], 5]}`, 400, "row 2 (features[1]) is a number, not a row"},
		{"too deep", `{"features": [[[1], 2, 3, 4]]}`, 400, "features[0][0]) is an array, not a number"},
		{"NaN literal", `{"features": [NaN, 2, 3, 4]}`, 400, "invalid JSON"},
		{"out of range", `{"features": [1e999, 2, 3, 4]}`, 400, "out of range"},
		{"leading zero", `{"features": [01, 2, 3, 4]}`, 400, "invalid JSON"},
		{"bad other field", `{"id": [1, }, "features": [1, 2, 3, 4]}`, 400, "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, s, "POST", "/predict", tc.body)
			if code != tc.code {
				t.Fatalf("got %d %q, want %d", code, body, tc.code)
			}
			if msg := errorOf(t, body); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not say %q", msg, tc.want)
			}
			// predict_proba decodes the same way.
			if code, _ := do(t, s, "POST", "/predict_proba", tc.body); code != tc.code {
				t.Fatalf("/predict_proba: got %d, want %d", code, tc.code)
			}
		})
	}
}

func TestOtherMembersIgnored(t *testing.T) {
	s := New(iris())
	code, body := do(t, s, "POST", "/predict", `{"id": {"a": [1, "x", null, true, {"b": -1.5e3}]}, "features": [1, 2, 3, 4], "z": "\u00e9\n"}`)
	if code != 200 || body != `{"prediction":[1]}`+"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestNaN(t *testing.T) {
	m := iris()
	m.nan = true
	code, body := do(t, New(m), "POST", "/predict", `{"features": [[null, 2, 3, 4], [1, null, null, null]]}`)
	if code != 200 || body != `{"prediction":[0,1]}`+"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := New(iris(), WithMaxBody(64))
	big := `{"features": [1, 2, 3, 4], "pad": "` + strings.Repeat("x", 100) + `"}`
	code, body := do(t, s, "POST", "/predict", big)
	if code != 413 || !strings.Contains(errorOf(t, body), "larger than the limit of 64 bytes") {
		t.Fatalf("got %d %q", code, body)
	}
	// Over TCP the server stops reading at the limit, with a Content-Length
	// or without (chunked).
	url := "http://" + serveOn(t, s) + "/predict"
	for name, body := range map[string]io.Reader{"sized": strings.NewReader(big), "chunked": io.MultiReader(strings.NewReader(big))} {
		resp, err := http.Post(url, "application/json", body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(errorOf(t, string(b)), "larger than the limit of 64 bytes") {
			t.Fatalf("%s: got %d %q", name, resp.StatusCode, b)
		}
	}
	// At the limit is fine.
	ok := `{"features": [1, 2, 3, 4]}`
	ok += strings.Repeat(" ", 64-len(ok))
	if code, body := do(t, s, "POST", "/predict", ok); code != 200 {
		t.Fatalf("at the limit: got %d %q", code, body)
	}
	if code, _ := do(t, s, "POST", "/v2/models/model/infer", big); code != 413 {
		t.Fatalf("v2: got %d", code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s := New(iris())
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/predict", "POST"},
		{"PUT", "/predict_proba", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/v2/models/model", "GET, HEAD"},
		{"GET", "/v2/models/model/infer", "POST"},
	} {
		ctx := request(s, tc.method, tc.path, "")
		if code, allow := ctx.Response.StatusCode(), string(ctx.Response.Header.Peek("Allow")); code != 405 || allow != tc.allow {
			t.Errorf("%s %s: got %d, Allow %q", tc.method, tc.path, code, allow)
			continue
		}
		if msg := errorOf(t, string(ctx.Response.Body())); !strings.Contains(msg, "method "+tc.method+" is not allowed") {
			t.Errorf("%s %s: %q", tc.method, tc.path, msg)
		}
	}
}

func TestNotFound(t *testing.T) {
	code, body := do(t, New(iris()), "GET", "/nope", "")
	if code != 404 || !strings.Contains(errorOf(t, body), "no such endpoint: /nope") {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestHealth(t *testing.T) {
	s := New(iris(), WithName("iris"))
	for path, want := range map[string]string{
		"/healthz":         `{"status":"ok"}`,
		"/readyz":          `{"status":"ready","model":"iris"}`,
		"/v2/health/live":  `{"live":true}`,
		"/v2/health/ready": `{"ready":true}`,
	} {
		if code, body := do(t, s, "GET", path, ""); code != 200 || body != want+"\n" {
			t.Errorf("%s: got %d %q", path, code, body)
		}
	}
}

func TestReadinessWaitsForModel(t *testing.T) {
	s := New(nil)
	for _, path := range []string{"/readyz", "/v2/health/ready", "/v2/models/model/ready"} {
		if code, body := do(t, s, "GET", path, ""); code != 503 || !strings.Contains(body, "loading") {
			t.Errorf("%s before the model: got %d %q", path, code, body)
		}
	}
	if code, _ := do(t, s, "GET", "/healthz", ""); code != 200 {
		t.Errorf("/healthz before the model: %d", code)
	}
	if code, body := do(t, s, "POST", "/predict", `{"features": [1, 2, 3, 4]}`); code != 503 {
		t.Errorf("/predict before the model: got %d %q", code, body)
	}
	if err := s.SetModel(iris()); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, s, "GET", "/readyz", ""); code != 200 {
		t.Errorf("/readyz after the model: got %d %q", code, body)
	}
}

func TestSelfCheckFailure(t *testing.T) {
	m := iris()
	m.broken = true
	s := New(m)
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "the fake is broken") {
		t.Fatalf("Ready: %v", err)
	}
	code, body := do(t, s, "GET", "/readyz", "")
	if code != 503 || !strings.Contains(body, "self-check of FakeClassifier failed") {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestModelErrorAndPanic(t *testing.T) {
	m := iris()
	s := New(m)
	m.broken = true
	code, body := do(t, s, "POST", "/predict", `{"features": [1, 2, 3, 4]}`)
	if code != 500 || !strings.Contains(errorOf(t, body), "the fake is broken") {
		t.Fatalf("error: got %d %q", code, body)
	}
	m.broken = false
	m.hook = func() { panic("boom") }
	code, body = do(t, s, "POST", "/predict", `{"features": [1, 2, 3, 4]}`)
	if code != 500 || !strings.Contains(errorOf(t, body), "panicked: boom") {
		t.Fatalf("panic: got %d %q", code, body)
	}
	m.hook = nil
	if code, _ := do(t, s, "POST", "/predict", `{"features": [1, 2, 3, 4]}`); code != 200 {
		t.Fatalf("after the panic: %d", code)
	}
}

func TestAccessLog(t *testing.T) {
	var log bytes.Buffer
	s := New(iris(), WithAccessLog(&log))
	do(t, s, "POST", "/predict", `{"features": [1, 2, 3, 4]}`)
	do(t, s, "GET", "/predict", "")
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), log.String())
	}
	var e struct {
		Method, Path, Remote string
		Status               int
		Bytes                int64
		Duration             *float64 `json:"duration_ms"`
		Time                 string
	}
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Method != "POST" || e.Path != "/predict" || e.Status != 200 || e.Bytes != int64(len(`{"prediction":[1]}`+"\n")) || e.Remote == "" || e.Duration == nil || e.Time == "" {
		t.Fatalf("entry %+v from %s", e, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Status != 405 {
		t.Fatalf("second entry %s: %v", lines[1], err)
	}
}

func TestNoAccessLogByDefault(t *testing.T) {
	// Nothing to observe but that it does not crash without a writer.
	if code, _ := do(t, New(iris()), "GET", "/healthz", ""); code != 200 {
		t.Fatal(code)
	}
}

func TestOpenAPI(t *testing.T) {
	s := New(iris(), WithName("iris"), WithVersion("v9"))
	code, body := do(t, s, "GET", "/openapi.json", "")
	if code != 200 {
		t.Fatalf("got %d", code)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct{ Version, Description string }
		Paths   map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Version != "v9" || !strings.Contains(doc.Info.Description, "FakeClassifier, 4 features") {
		t.Fatalf("document %+v", doc)
	}
	// Every endpoint the server answers is documented, with its method.
	for path, method := range map[string]string{
		"/predict": "post", "/predict_proba": "post", "/healthz": "get", "/readyz": "get",
		"/metrics": "get", "/openapi.json": "get", "/v2": "get", "/v2/health/live": "get",
		"/v2/health/ready": "get", "/v2/models/{name}": "get", "/v2/models/{name}/ready": "get",
		"/v2/models/{name}/infer": "post",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("%s %s is not documented", method, path)
		}
		p := strings.ReplaceAll(path, "{name}", "iris")
		if code, _ := do(t, s, strings.ToUpper(method), p, ""); code == 404 || code == 405 {
			t.Errorf("%s %s: %d", method, p, code)
		}
	}
	if len(doc.Paths) != 12 {
		t.Errorf("%d paths documented", len(doc.Paths))
	}
}

func TestSetModelNil(t *testing.T) {
	s := New(iris())
	if err := s.SetModel(nil); err == nil {
		t.Fatal("SetModel(nil) succeeded")
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("the model before SetModel(nil) is not served any more: %v", err)
	}
}
