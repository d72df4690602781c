// Package imagetest is a conformance suite for image stores: the store in
// memory and the store on disk must behave the same.
package imagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// WriteRandom stores a small image whose single layer holds seed, and
// returns its manifest descriptor.
func WriteRandom(t testing.TB, s *image.Store, seed string) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	li, err := content.PutBytes(ctx, s.Content(), []byte("layer "+seed))
	if err != nil {
		t.Fatal(err)
	}
	cfg := v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Created: v1.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{li.Digest}},
		Config:  v1.Config{Cmd: []string{"sh"}, Labels: map[string]string{"seed": seed}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.WriteManifest(ctx, b, []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Digest: li.Digest, Size: li.Size}})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// Tag names desc, failing the test on error.
func Tag(t testing.TB, s *image.Store, name string, desc v1.Descriptor) {
	t.Helper()
	ref, err := reference.ParseTagged(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(context.Background(), ref, desc); err != nil {
		t.Fatal(err)
	}
}

func blobCount(t *testing.T, s *image.Store) int {
	n := 0
	if err := s.Content().Walk(context.Background(), func(content.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Run runs the suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) *image.Store) {
	ctx := context.Background()
	t.Run("TagAndLookup", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "a")
		Tag(t, s, "busybox", d)
		for _, name := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", "busybox@" + d.Digest.String()} {
			img, err := s.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", name, err)
			}
			if img.Target.Digest != d.Digest {
				t.Fatalf("Lookup(%q) = %s, want %s", name, img.Target.Digest, d.Digest)
			}
		}
		img, _ := s.Lookup(ctx, "busybox")
		for _, id := range []string{img.ID.String(), img.ID.Hex, img.ID.Hex[:12], "sha256:" + img.ID.Hex[:5]} {
			if got, err := s.Lookup(ctx, id); err != nil || got.ID != img.ID {
				t.Fatalf("Lookup by ID %q: %v", id, err)
			}
		}
	})
	t.Run("UnknownIsNotFound", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Lookup(ctx, "nope")
		if !errors.Is(err, image.ErrNotFound) || err.Error() != "no such image: nope" {
			t.Fatalf("Lookup(nope) = %v", err)
		}
		Tag(t, s, "other:v1", WriteRandom(t, s, "o"))
		if _, err := s.Lookup(ctx, "other:v2"); !errors.Is(err, image.ErrNotFound) {
			t.Fatalf("Lookup of a missing tag = %v", err)
		}
		if _, err := s.Lookup(ctx, "other@sha256:"+fmt.Sprintf("%064d", 0)); !errors.Is(err, image.ErrNotFound) {
			t.Fatalf("Lookup of a missing digest = %v", err)
		}
	})
	t.Run("RetagLeavesDangling", func(t *testing.T) {
		s := newStore(t)
		d1, d2 := WriteRandom(t, s, "1"), WriteRandom(t, s, "2")
		Tag(t, s, "app", d1)
		Tag(t, s, "app", d2)
		imgs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 2 {
			t.Fatalf("List = %d images, want 2 (one dangling)", len(imgs))
		}
		for _, img := range imgs {
			if img.Target.Digest == d1.Digest && len(img.Names) != 0 {
				t.Fatalf("old image still named %v", img.Names)
			}
		}
	})
	t.Run("SeveralNamesOneImage", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "x")
		Tag(t, s, "a", d)
		Tag(t, s, "localhost:5000/b:v1", d)
		imgs, err := s.List(ctx)
		if err != nil || len(imgs) != 1 || len(imgs[0].Names) != 2 {
			t.Fatalf("List = %+v, %v; want one image with two names", imgs, err)
		}
	})
	t.Run("RemoveByNameKeepsOtherNames", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "x")
		Tag(t, s, "a", d)
		Tag(t, s, "b", d)
		before := blobCount(t, s)
		res, err := s.Remove(ctx, "a", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Untagged) != 1 || res.Untagged[0] != "a:latest" || len(res.Deleted) != 0 {
			t.Fatalf("Remove(a) = %+v", res)
		}
		if blobCount(t, s) != before {
			t.Fatal("untagging one of two names deleted blobs")
		}
		if _, err := s.Lookup(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RemoveLastNameDeletesBlobs", func(t *testing.T) {
		s := newStore(t)
		keep := WriteRandom(t, s, "keep")
		Tag(t, s, "keep", keep)
		before := blobCount(t, s)
		d := WriteRandom(t, s, "gone")
		Tag(t, s, "gone", d)
		wantID := mustID(t, s, d)
		res, err := s.Remove(ctx, "gone", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Deleted) != 3 || res.Deleted[0] != wantID || res.Reclaimed == 0 { // image ID (the config blob), then manifest and layer blobs
			t.Fatalf("Remove = %+v", res)
		}
		if n := blobCount(t, s); n != before {
			t.Fatalf("%d blobs after remove, want %d", n, before)
		}
		if _, err := s.Lookup(ctx, "keep"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RemoveByIDNeedsForceForManyNames", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "x")
		Tag(t, s, "a", d)
		Tag(t, s, "b", d)
		img, _ := s.Lookup(ctx, "a")
		if _, err := s.Remove(ctx, img.ShortID(), false); err == nil {
			t.Fatal("removing an image with two names by ID needed no force")
		}
		if _, err := s.Remove(ctx, img.ShortID(), true); err != nil {
			t.Fatal(err)
		}
		if imgs, _ := s.List(ctx); len(imgs) != 0 {
			t.Fatalf("%d images left", len(imgs))
		}
	})
	t.Run("PruneRemovesDanglingAndOrphans", func(t *testing.T) {
		s := newStore(t)
		Tag(t, s, "app", WriteRandom(t, s, "1"))
		Tag(t, s, "app", WriteRandom(t, s, "2")) // "1" is now dangling
		content.PutBytes(ctx, s.Content(), []byte("orphan"))
		res, err := s.Prune(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Reclaimed == 0 || len(res.Deleted) != 4 { // dangling ID (its config), its manifest and layer, the orphan
			t.Fatalf("Prune = %+v", res)
		}
		imgs, _ := s.List(ctx)
		if len(imgs) != 1 || len(imgs[0].Names) != 1 {
			t.Fatalf("after prune: %+v", imgs)
		}
		if n := blobCount(t, s); n != 3 {
			t.Fatalf("%d blobs after prune, want 3", n)
		}
		// The image left still reads.
		if _, _, err := s.ConfigFile(ctx, imgs[0]); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("PruneKeepsRoots", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "cached")
		s.AddRoots(func(context.Context) ([]v1.Descriptor, error) { return []v1.Descriptor{d}, nil })
		if _, err := s.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if n := blobCount(t, s); n != 3 {
			t.Fatalf("%d blobs after prune, want the root's 3", n)
		}
	})
	t.Run("V1Image", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "v1")
		Tag(t, s, "v1", d)
		img, _ := s.Lookup(ctx, "v1")
		vi, err := s.V1(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := vi.Digest(); err != nil || got != d.Digest {
			t.Fatalf("Digest = %s, %v", got, err)
		}
		if got, err := vi.ConfigName(); err != nil || got != img.ID {
			t.Fatalf("ConfigName = %s, %v", got, err)
		}
		ls, err := vi.Layers()
		if err != nil || len(ls) != 1 {
			t.Fatalf("Layers = %v, %v", ls, err)
		}
	})
	t.Run("CorruptManifestIsNamed", func(t *testing.T) {
		s := newStore(t)
		d := WriteRandom(t, s, "c")
		Tag(t, s, "c", d)
		corrupt(t, s, d.Digest)
		_, err := s.Lookup(ctx, "c")
		var ce *content.CorruptError
		if !errors.As(err, &ce) || ce.Digest != d.Digest {
			t.Fatalf("Lookup of an image with a corrupt manifest = %v", err)
		}
		if _, err := s.Prune(ctx); !errors.As(err, &ce) {
			t.Fatalf("Prune with a corrupt manifest = %v, want it refused", err)
		}
	})
}

// corrupt damages a blob through whichever store holds it.
func corrupt(t *testing.T, s *image.Store, d v1.Hash) {
	switch cs := s.Content().(type) {
	case *content.Memory:
		cs.Corrupt(d, []byte("{}"))
	case *content.Disk:
		if err := writeFile(cs.Path(d), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	default:
		t.Skip("cannot corrupt this store")
	}
}

func mustID(t *testing.T, s *image.Store, d v1.Descriptor) v1.Hash {
	t.Helper()
	m, err := s.Manifest(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return m.Config.Digest
}
