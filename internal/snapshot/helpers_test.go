package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// needRoot skips tests that mount, chown and mknod when not root.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (overlayfs mounts, chown, mknod): run as root")
	}
}

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) entry {
	return entry{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) entry {
	return entry{name: name, link: to, typ: tar.TypeLink, mode: 0o644}
}

// tarOf makes an uncompressed layer tar.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, b []byte, how string) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch how {
	case "gzip":
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(b)
		zw.Close()
	default:
		return b
	}
	return buf.Bytes()
}

func digestOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

// testImage stores layers (uncompressed tars, each stored compressed as
// asked: "", "gzip" or "zstd") as an image named name.
func testImage(t testing.TB, is *image.Store, name string, how string, layers ...[]byte) image.Image {
	t.Helper()
	ctx := context.Background()
	var descs []v1.Descriptor
	var diffIDs []v1.Hash
	for _, l := range layers {
		blob := compress(t, l, how)
		info, err := content.PutBytes(ctx, is.Content(), blob)
		if err != nil {
			t.Fatal(err)
		}
		mt := types.OCIUncompressedLayer
		switch how {
		case "gzip":
			mt = types.OCILayer
		case "zstd":
			mt = types.OCILayerZStd
		}
		descs = append(descs, v1.Descriptor{MediaType: mt, Digest: info.Digest, Size: info.Size})
		diffIDs = append(diffIDs, digestOf(l))
	}
	cfg, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := is.WriteManifest(ctx, cfg, descs)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Tag(ctx, ref, desc); err != nil {
		t.Fatal(err)
	}
	img, err := is.Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// stores opens an image store and its snapshot store in a temp dir.
func stores(t testing.TB) (*image.Store, *Store) {
	t.Helper()
	root := t.TempDir()
	is, err := image.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ss.NoSync = true
	return is, ss
}

// mountT mounts an overlay and unmounts it when the test ends.
func mountT(t testing.TB, lowers []string, upper, work string) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "merged")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Mount(lowers, upper, work, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Error(err)
		}
	})
	return target
}

// upperT makes an upper and a work directory.
func upperT(t testing.TB) (string, string) {
	t.Helper()
	d := t.TempDir()
	u, w := filepath.Join(d, "upper"), filepath.Join(d, "work")
	for _, p := range []string{u, w} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return u, w
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustNotExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Fatalf("%s exists", p)
	}
}
