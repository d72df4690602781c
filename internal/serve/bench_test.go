package serve

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// benchHandler runs the server's handler on one request over and over, as
// its fasthttp server would, without the network.
func benchHandler(b *testing.B, s *Server, path, body string) {
	b.Helper()
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(path)
	req.SetBodyString(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		s.Handler(&ctx)
	}
	if code := ctx.Response.StatusCode(); code != 200 {
		b.Fatalf("got %d %s", code, ctx.Response.Body())
	}
}

// BenchmarkServePredict is the server's own cost per request, around a
// model that costs next to nothing.
func BenchmarkServePredict(b *testing.B) {
	b.Run("fake", func(b *testing.B) {
		benchHandler(b, New(iris()), "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	})
	b.Run("rfc_iris", func(b *testing.B) {
		benchHandler(b, New(loadFixture(b, "rfc_iris.p5.pkl")), "/predict", `{"features": [5.1, 3.5, 1.4, 0.2]}`)
	})
}
