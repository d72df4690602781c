package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

func rootfs(t testing.TB) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"etc/hostname", "strata\n"}, {"bin/app", "#!/bin/sh\necho hi\n"}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(f.body))})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	return buf.Bytes()
}

func importNamed(t testing.TB, s *image.Store, name string) image.Image {
	ctx := context.Background()
	desc, err := Import(ctx, s, bytes.NewReader(rootfs(t)), ImportOptions{Source: "-"})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := reference.ParseTagged(name)
	if err := s.Tag(ctx, ref, desc); err != nil {
		t.Fatal(err)
	}
	img, err := s.Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestSaveLoadInMemory(t *testing.T) {
	ctx := context.Background()
	src := image.NewMemory()
	a := importNamed(t, src, "a:v1")
	b := importNamed(t, src, "localhost:5000/b:v2")
	var buf bytes.Buffer
	if err := Save(ctx, src, &buf, []Named{{Image: a, Names: a.Names}, {Image: b, Names: b.Names}, {Image: a}}); err != nil {
		t.Fatal(err)
	}
	dst := image.NewMemory()
	loaded, err := Load(ctx, dst, bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 {
		t.Fatalf("loaded %d images, want 2", len(loaded))
	}
	want := map[string]string{"docker.io/library/a:v1": a.ID.String(), "localhost:5000/b:v2": b.ID.String()}
	for _, l := range loaded {
		if len(l.Names) != 1 || want[l.Names[0]] != l.ID.String() {
			t.Errorf("loaded %v with ID %s", l.Names, l.ID)
		}
	}
}

func TestImportIsUncompressedAndStable(t *testing.T) {
	s := image.NewMemory()
	img := importNamed(t, s, "x")
	if len(img.Manifest.Layers) != 1 || img.Manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar" {
		t.Fatalf("layers %+v", img.Manifest.Layers)
	}
	cf, _, err := s.ConfigFile(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if cf.RootFS.DiffIDs[0] != img.Manifest.Layers[0].Digest {
		t.Fatal("an uncompressed layer's digest must be its diff ID")
	}
	// The same rootfs imported twice gives the same layer.
	img2 := importNamed(t, s, "y")
	if img2.Manifest.Layers[0].Digest != img.Manifest.Layers[0].Digest {
		t.Fatal("the same tarball gave two layers")
	}
}

// FuzzLoad: no archive, however malformed, crashes Load or leaves a name
// pointing at an image the store cannot read.
func FuzzLoad(f *testing.F) {
	src := image.NewMemory()
	a := importNamed(f, src, "a")
	var buf bytes.Buffer
	if err := Save(context.Background(), src, &buf, []Named{{Image: a, Names: a.Names}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(rootfs(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := image.NewMemory()
		loaded, err := Load(context.Background(), s, bytes.NewReader(in), nil)
		if err != nil {
			return
		}
		for _, l := range loaded {
			if _, err := s.Manifest(context.Background(), l.Target); err != nil {
				t.Fatalf("loaded an unreadable image: %v", err)
			}
		}
	})
}
