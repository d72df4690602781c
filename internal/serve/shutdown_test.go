package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// blockingServer serves iris with a hook that, once past New's self-check,
// signals entered and waits for release in every prediction.
func blockingServer(opts ...Option) (s *Server, entered chan struct{}, release chan struct{}) {
	m := iris()
	entered = make(chan struct{})
	release = make(chan struct{})
	var (
		once  sync.Once
		armed atomic.Bool
	)
	m.hook = func() {
		if armed.Load() {
			once.Do(func() { close(entered) })
			<-release
		}
	}
	s = New(m, opts...)
	armed.Store(true)
	return s, entered, release
}

type result struct {
	code int
	body string
	err  error
}

func post(url, body string) <-chan result {
	c := make(chan result, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			c <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		c <- result{code: resp.StatusCode, body: string(b), err: err}
	}()
	return c
}

func TestGracefulShutdown(t *testing.T) {
	s, entered, release := blockingServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	inflight := post("http://"+ln.Addr().String()+"/predict", `{"features": [1, 2, 3, 4]}`)
	<-entered
	cancel()
	for s.Ready() == nil { // the server drains: not ready any more
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	case r := <-inflight:
		t.Fatalf("the request ended before it was released: %+v", r)
	default:
	}
	close(release)
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != `{"prediction":[1]}`+"\n" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

func TestShutdownTimeout(t *testing.T) {
	s, entered, release := blockingServer(WithShutdownTimeout(10 * time.Millisecond))
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	inflight := post("http://"+ln.Addr().String()+"/predict", `{"features": [1, 2, 3, 4]}`)
	<-entered
	cancel()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "shutting down after 10ms") {
		t.Fatalf("Serve: %v", err)
	}
	if r := <-inflight; r.err == nil {
		t.Fatalf("the request that outlived the timeout was not cut off: %+v", r)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	err := New(iris()).ListenAndServe(context.Background(), "127.0.0.1:-1")
	if err == nil || !strings.Contains(err.Error(), "listening on 127.0.0.1:-1") {
		t.Fatalf("got %v", err)
	}
}

func TestMetrics(t *testing.T) {
	s := New(iris(), WithName("iris"))
	do(t, s, "POST", "/predict", `{"features": [[1, 2, 3, 4], [1, 2, 3, 4], [0, 0, 0, 0]]}`)
	do(t, s, "POST", "/predict", `{"features": [1, 2, 3]}`)
	do(t, s, "POST", "/v2/models/iris/infer", `{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4, 2, 0, 0, 0]}]}`)
	code, body := do(t, s, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("got %d", code)
	}
	for _, want := range []string{
		`strata_http_requests_total{code="200",endpoint="/predict"} 1`,
		`strata_http_requests_total{code="400",endpoint="/predict"} 1`,
		`strata_http_errors_total{code="400",endpoint="/predict"} 1`,
		`strata_rows_predicted_total{endpoint="/predict"} 3`,
		`strata_rows_predicted_total{endpoint="/v2/models/{name}/infer"} 2`,
		`strata_http_request_duration_seconds_count{endpoint="/predict"} 2`,
		`strata_model_info{class="tests.FakeClassifier",estimator="FakeClassifier",name="iris",sklearn_version="1.2.1"} 1`,
		`strata_http_requests_in_flight 1`, // the /metrics request itself
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `strata_http_errors_total{code="200"`) {
		t.Error("a 200 counted as an error")
	}
}

func TestMetricsPrivateRegistry(t *testing.T) {
	// Two servers in one process do not collide, and neither touches the
	// global registry.
	a, b := New(iris(), WithName("a")), New(iris(), WithName("b"))
	do(t, a, "GET", "/healthz", "")
	_, body := do(t, b, "GET", "/metrics", "")
	if strings.Contains(body, `strata_http_requests_total{code="200",endpoint="/healthz"}`) || !strings.Contains(body, `name="b"`) || strings.Contains(body, `name="a"`) {
		t.Fatalf("b's metrics show a's:\n%s", body)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "strata_") {
			t.Fatalf("%s is in the global registry", mf.GetName())
		}
	}
	// A registry passed in is used and served.
	reg := prometheus.NewRegistry()
	c := New(iris(), WithRegistry(reg))
	do(t, c, "GET", "/healthz", "")
	mfs, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "strata_http_requests_total"
	}
	if !found {
		t.Fatal("the metrics are not in the registry passed in")
	}
}

// serveOn starts s on a local port and returns its address; the server
// stops at the end of the test.
func serveOn(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestSlowClientsAreCutOff(t *testing.T) {
	s := New(iris())
	s.o.timeouts = timeouts{readHeader: 100 * time.Millisecond, read: time.Second, write: time.Second, idle: time.Second}
	addr := serveOn(t, s)
	for _, tc := range []struct {
		name, partial string
		// the server must keep the connection at least min, and close it
		// before max
		min, max time.Duration
	}{
		{"headers", "POST /predict HTTP/1.1\r\nHost: x\r\n", 0, 700 * time.Millisecond},
		// Once the headers are in, the body has the longer read limit.
		{"body", "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"features\": [", 300 * time.Millisecond, 5 * time.Second},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := conn.Write([]byte(tc.partial)); err != nil {
			t.Fatal(err)
		}
		// The server closes the connection (after a 408 or a 400, or
		// nothing); without the timeouts this read would block forever.
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		b, err := io.ReadAll(conn)
		took := time.Since(start)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the server kept a slow client's connection open", tc.name)
		}
		if took < tc.min || took > tc.max {
			t.Errorf("%s: connection closed after %v, want between %v and %v", tc.name, took, tc.min, tc.max)
		}
		if len(b) > 0 && strings.HasPrefix(string(b), "HTTP/1.1 200") {
			t.Fatalf("%s: a partial request succeeded: %q", tc.name, b)
		}
		conn.Close()
	}
}

// Requests the HTTP server cannot read get JSON errors that do not quote
// the request, and are counted and logged like the others.
func TestTransportErrors(t *testing.T) {
	var log syncBuffer
	s := New(iris(), WithMaxBody(64), WithAccessLog(&log))
	addr := serveOn(t, s)
	send := func(raw string) string {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(conn)
		return string(b)
	}
	secret := strings.Repeat("s3cret", 4000) // 24 KB of header
	for _, tc := range []struct{ name, raw, status, msg string }{
		{"body over the limit", "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + strings.Repeat(" ", 100), "413", "larger than the limit of 64 bytes"},
		{"headers over the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " + secret + "\r\n\r\n", "431", "headers are larger than the limit"},
		{"not HTTP", "GARBAGE s3cret\r\n\r\n", "400", "malformed HTTP request"},
	} {
		resp := send(tc.raw)
		if !strings.HasPrefix(resp, "HTTP/1.1 "+tc.status) || !strings.Contains(resp, tc.msg) {
			t.Errorf("%s: got %.200q", tc.name, resp)
		}
		if strings.Contains(resp, "s3cret") {
			t.Errorf("%s: the answer quotes the request: %.200q", tc.name, resp)
		}
	}
	if got := log.String(); strings.Count(got, "\n") != 3 || !strings.Contains(got, `"status":413`) || !strings.Contains(got, `"method":"-","path":"-","status":431`) {
		t.Errorf("access log, want 3 lines, the 413 and the unreadable requests as -:\n%s", got)
	}
	_, body := do(t, s, "GET", "/metrics", "")
	for _, want := range []string{
		`strata_http_requests_total{code="413",endpoint="/predict"} 1`,
		`strata_http_errors_total{code="431",endpoint="-"} 1`,
		`strata_http_errors_total{code="400",endpoint="-"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestConcurrentRequests serves the real model from many goroutines at
// once (run with -race): every answer must be the right one.
func TestConcurrentRequests(t *testing.T) {
	s := New(loadFixture(t, "rfc_iris.p5.pkl"))
	url := "http://" + serveOn(t, s)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				body, want := `{"features": [5.1, 3.5, 1.4, 0.2]}`, `{"prediction":[0]}`+"\n"
				if (i+j)%2 == 1 {
					body, want = `{"features": [[6.7, 3.0, 5.2, 2.3], [5.1, 3.5, 1.4, 0.2]]}`, `{"prediction":[2,0]}`+"\n"
				}
				r := <-post(url+"/predict", body)
				if r.err != nil || r.code != 200 || r.body != want {
					errs <- fmt.Sprintf("%+v, want %q", r, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
