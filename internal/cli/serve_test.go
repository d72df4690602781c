package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// article is the Flask tutorial's request body for the first iris flower.
const article = `{"features": [5.1, 3.5, 1.4, 0.2]}`

var banner = regexp.MustCompile(`^Serving RandomForestClassifier \(4 features, 3 classes\) from \S+rfc_iris.p5.pkl on (http://127\.0\.0\.1:\d+) \(loaded in \S+\)$`)

// lines sends the lines of r on a channel, closed at EOF.
func lines(r io.Reader) <-chan string {
	c := make(chan string, 16)
	go func() {
		defer close(c)
		s := bufio.NewScanner(r)
		for s.Scan() {
			c <- s.Text()
		}
	}()
	return c
}

// firstLine waits for the server's banner and returns its URL. The wait
// is bounded only so that a broken server fails the test instead of
// hanging it.
func firstLine(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-c:
		if !ok {
			t.Fatal("the server exited without a banner")
		}
		m := banner.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("banner %q", l)
		}
		return m[1]
	case <-time.After(time.Minute):
		t.Fatal("no banner after a minute")
	}
	return ""
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	return readResponse(t)(http.Post(url, "application/json", strings.NewReader(body)))
}

// metricsText is the body of GET url/metrics.
func metricsText(t *testing.T, url string) string {
	t.Helper()
	_, body := readResponse(t)(http.Get(url + "/metrics"))
	return body
}

// readResponse returns a function that reads a whole response, or fails
// the test: readResponse(t)(http.Get(url)).
func readResponse(t *testing.T) func(*http.Response, error) (int, string) {
	return func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeBinary builds strata, serves the article's model from a process
// over TCP, and stops it with SIGTERM.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	model := modelPath(t, "rfc_iris.p5.pkl")
	bin := filepath.Join(t.TempDir(), "strata")
	build := exec.Command("go", "build", "-o", bin, "github.com/strata-ml/strata/cmd/strata")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "1", "--access-log", model)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // if the test fails before SIGTERM
	errLines, logLines := lines(stderr), lines(stdout)
	url := firstLine(t, errLines)

	code, body := postJSON(t, url+"/predict", article)
	if code != 200 || body != `{"prediction":[0]}`+"\n" {
		t.Fatalf("POST /predict: %d %q", code, body)
	}
	code, body = postJSON(t, url+"/predict", `{"features": [5.1, 3.5]}`)
	if code != 400 || !strings.Contains(body, `"features\" has 2 values, the model expects 4`) {
		t.Fatalf("bad row: %d %q", code, body)
	}
	for _, path := range []string{"/readyz", "/healthz", "/v2/models/rfc_iris/ready", "/metrics"} {
		if code := get(t, url+path); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
	}
	if m := metricsText(t, url); !strings.Contains(m, "\ngo_sched_gomaxprocs_threads 1\n") {
		t.Fatalf("--threads 1 but /metrics says\n%s", grepLines(m, "gomaxprocs"))
	}
	if l := <-logLines; !strings.Contains(l, `"method":"POST","path":"/predict","status":200`) {
		t.Fatalf("access log line %q", l)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range errLines {
		rest = append(rest, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr %q", err, rest)
	}
	if len(rest) != 1 || rest[0] != "Stopped" {
		t.Fatalf("stderr after the banner: %q", rest)
	}
}

func TestServeInProcess(t *testing.T) {
	model := modelPath(t, "rfc_iris.p5.pkl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"serve", "--host", "127.0.0.1", "--port", "0", "--name", "iris", model},
			strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	c := lines(pr)
	url := firstLine(t, c)
	code, body := postJSON(t, url+"/v2/models/iris/infer",
		`{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}]}`)
	if code != 200 || !strings.Contains(body, `"data":[0,2]`) {
		t.Fatalf("infer: %d %q", code, body)
	}
	code, body = postJSON(t, url+"/predict_proba", article)
	if code != 200 || !strings.Contains(body, `"classes":[0,1,2]`) {
		t.Fatalf("predict_proba: %d %q", code, body)
	}
	cancel()
	for range c {
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestServeErrors(t *testing.T) {
	model := modelPath(t, "rfc_iris.p5.pkl")
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pkl")
	if err := os.WriteFile(junk, []byte("not a pickle"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "accepts 1 arg(s), received 0"},
		{[]string{"serve", "--max-body", "lots", model}, `invalid --max-body: "lots" is not a size`},
		{[]string{"serve", "--name", "a/b", model}, `invalid --name "a/b"`},
		{[]string{"serve", "--port", "70000", model}, "invalid --port 70000"},
		{[]string{"serve", "--threads", "-1", model}, "invalid --threads -1"},
		{[]string{"serve", "/nonexistent/model.pkl"}, "loading the model"},
		{[]string{"serve", junk}, "loading the model: junk.pkl"},
		{[]string{"serve", "--host", "256.0.0.1", "--port", "0", model}, "listening"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != 1 || !strings.HasPrefix(errs, "Error: ") || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"8MiB": 8 << 20, "8mib": 8 << 20, "8 MiB": 8 << 20, "1024": 1024, "512KiB": 512 << 10,
		"1MB": 1e6, "2k": 2048, "1.5MiB": 3 << 19, "1g": 1 << 30, "10b": 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "0", "8 parsecs", "2TiB", "5000GB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("%q: got %d, want an error", in, got)
		}
	}
}

func TestModelName(t *testing.T) {
	for in, want := range map[string]string{
		"model.pkl": "model", "/tmp/iris.joblib.gz": "iris", "rfc_iris.p5.pkl": "rfc_iris",
		"noext": "noext", ".hidden.pkl": "model", "sp ace.pkl": "model",
	} {
		if got := modelName(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
