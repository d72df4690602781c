package registry

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// A fast test against ggcr's in-memory registry; e2e/registry_test.go runs
// the same against the real distribution server.
func serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(gcrregistry.New())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPullPicksThisPlatformFromAnIndex(t *testing.T) {
	host := serve(t)
	mine, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := random.Image(1024, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref, _ := name.ParseReference(host + "/multi:v1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	s := image.NewMemory()
	r, _ := reference.Parse(host + "/multi:v1")
	var events []Event
	desc, err := Pull(context.Background(), s, r, Options{Progress: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mine.Digest()
	if desc.Digest != want {
		t.Fatalf("pulled %s, want this platform's image %s", desc.Digest, want)
	}
	if len(events) != 4 { // two layers, each "pulling" then "done"
		t.Fatalf("events %+v", events)
	}
	// Pulling again fetches no layer.
	events = nil
	if _, err := Pull(context.Background(), s, r, Options{Progress: func(e Event) { events = append(events, e) }}); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Status != "exists" {
			t.Fatalf("second pull fetched %s", e.Layer)
		}
	}
}

func TestPullUnknownTagIsAClearError(t *testing.T) {
	host := serve(t)
	r, _ := reference.Parse(host + "/nothing:here")
	_, err := Pull(context.Background(), image.NewMemory(), r, Options{})
	if err == nil || !strings.Contains(err.Error(), "pull "+host+"/nothing:here") {
		t.Fatalf("Pull of a missing image: %v", err)
	}
}
