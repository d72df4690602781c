package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/content"
)

// TestManyLayers prepares and mounts an image of 120 layers, whose lower
// paths together are far longer than a page of mount options, through the
// new mount API and through the mount(2) fallback.
func TestManyLayers(t *testing.T) {
	needRoot(t)
	is, ss := stores(t)
	var layers [][]byte
	const n = 120
	for i := range n {
		layers = append(layers, tarOf(t, dir("layers/"), file(fmt.Sprintf("layers/%03d", i), "x"), file("top", fmt.Sprint(i))))
	}
	img := testImage(t, is, "test/many:1", "", layers...)
	lowers, err := ss.Prepare(t.Context(), is, img)
	if err != nil {
		t.Fatal(err)
	}
	if total := len(strings.Join(lowers, ":")); total < 2*os.Getpagesize() {
		t.Fatalf("lower paths only %d bytes long", total)
	}
	check := func(t *testing.T, m string) {
		t.Helper()
		if got := readFile(t, filepath.Join(m, "top")); got != fmt.Sprint(n-1) {
			t.Fatalf("top = %q", got)
		}
		if entries, _ := os.ReadDir(filepath.Join(m, "layers")); len(entries) != n {
			t.Fatalf("%d files in layers/", len(entries))
		}
		if err := os.WriteFile(filepath.Join(m, "written"), []byte("w"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("fsopen", func(t *testing.T) {
		upper, work := upperT(t)
		check(t, mountT(t, lowers, upper, work))
		if readFile(t, filepath.Join(upper, "written")) != "w" {
			t.Fatal("write did not reach the upper directory")
		}
	})
	t.Run("mount(2)", func(t *testing.T) {
		upper, work := upperT(t)
		target := filepath.Join(t.TempDir(), "m")
		os.Mkdir(target, 0o755)
		if err := mountLegacy(lowers, upper, work, target, overlayFeatures); err != nil {
			t.Fatal(err)
		}
		defer Unmount(target)
		check(t, target)
	})
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("volatile legacy=%v", legacy), func(t *testing.T) {
			upper, work := upperT(t)
			target := filepath.Join(t.TempDir(), "m")
			os.Mkdir(target, 0o755)
			var err error
			if legacy {
				err = mountLegacy(lowers, upper, work, target, append(overlayFeatures, [2]string{"volatile", ""}))
			} else {
				err = MountWith(lowers, upper, work, target, MountOptions{Volatile: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer Unmount(target)
			check(t, target)
			info, _ := os.ReadFile("/proc/self/mountinfo")
			found := false
			for _, line := range strings.Split(string(info), "\n") {
				if strings.Contains(line, " "+target+" ") {
					found = true
					if !strings.Contains(line, "volatile") {
						t.Fatalf("not volatile: %s", line)
					}
				}
			}
			if !found {
				t.Fatalf("%s not in mountinfo", target)
			}
		})
	}
	t.Run("path over 255 bytes", func(t *testing.T) {
		long := filepath.Join(t.TempDir(), strings.Repeat("d", 200), strings.Repeat("e", 200))
		if err := os.MkdirAll(long, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(long, "deep"), []byte("d"), 0o644)
		upper, work := upperT(t)
		m := mountT(t, append([]string{long}, lowers...), upper, work)
		if readFile(t, filepath.Join(m, "deep")) != "d" {
			t.Fatal("long lower not mounted")
		}
	})
}

// TestPrepareRefusesBadLayers checks a layer whose content does not match
// its diff ID, or a corrupt blob, leaves no snapshot, and the error names
// the layer.
func TestPrepareRefusesBadLayers(t *testing.T) {
	needRoot(t)
	is, ss := stores(t)
	good := tarOf(t, file("a", "a"))
	other := tarOf(t, file("b", "b"))
	info, err := content.PutBytes(t.Context(), is.Content(), compress(t, good, "gzip"))
	if err != nil {
		t.Fatal(err)
	}
	desc := v1.Descriptor{Digest: info.Digest, Size: info.Size}
	_, err = ss.PrepareLayers(t.Context(), is.Content(), []v1.Descriptor{desc}, []v1.Hash{digestOf(other)})
	if err == nil || !strings.Contains(err.Error(), info.Digest.String()) || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("wrong diff ID: %v", err)
	}
	if ss.Exists(digestOf(other)) {
		t.Fatal("snapshot of a mismatched layer")
	}
	// A blob altered on disk.
	raw := tarOf(t, file("c", strings.Repeat("c", 5000)))
	info, _ = content.PutBytes(t.Context(), is.Content(), raw)
	p := filepath.Join(is.Root(), "blobs", "sha256", info.Digest.Hex)
	b, _ := os.ReadFile(p)
	b[len(b)-2000] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ss.PrepareLayers(t.Context(), is.Content(), []v1.Descriptor{{Digest: info.Digest, Size: info.Size}}, []v1.Hash{info.Digest})
	var corrupt *content.CorruptError
	if !errors.As(err, &corrupt) {
		t.Fatalf("corrupt blob: %v", err)
	}
	if ss.Exists(info.Digest) {
		t.Fatal("snapshot of a corrupt blob")
	}
	if entries, _ := os.ReadDir(filepath.Join(ss.Dir(), "tmp")); len(entries) != 0 {
		t.Fatalf("tmp/ holds %d entries", len(entries))
	}
}

// TestPrune removes the snapshots of a removed image and keeps shared,
// kept and in-use ones.
func TestPrune(t *testing.T) {
	needRoot(t)
	is, ss := stores(t)
	base := tarOf(t, file("base", strings.Repeat("b", 10000)))
	l2 := tarOf(t, file("two", strings.Repeat("2", 10000)))
	l3 := tarOf(t, file("three", strings.Repeat("3", 10000)))
	l4 := tarOf(t, file("four", strings.Repeat("4", 10000)))
	a := testImage(t, is, "test/a:1", "", base, l2)
	b := testImage(t, is, "test/b:1", "", base, l3)
	c := testImage(t, is, "test/c:1", "", base, l4)
	lowersA, _ := ss.Prepare(t.Context(), is, a)
	lowersB, _ := ss.Prepare(t.Context(), is, b)
	lowersC, err := ss.Prepare(t.Context(), is, c)
	if err != nil {
		t.Fatal(err)
	}
	// Leftovers of a killed unpack.
	junk := filepath.Join(ss.Dir(), "tmp", strings.Repeat("0", 64)+"-123")
	os.MkdirAll(filepath.Join(junk, "x"), 0o755)

	freed, err := ss.Prune(t.Context(), is, nil)
	if err != nil || freed <= 0 {
		t.Fatalf("prune with every image present: freed %d, %v", freed, err)
	}
	if _, err := os.Stat(junk); err == nil {
		t.Fatal("leftover of a killed unpack kept")
	}
	for _, name := range []string{"test/b:1", "test/c:1"} {
		if _, err := is.Remove(t.Context(), name, false); err != nil {
			t.Fatal(err)
		}
	}
	chainsC := ChainIDs([]v1.Hash{digestOf(base), digestOf(l4)})
	freed, err = ss.Prune(t.Context(), is, []v1.Hash{chainsC[1]}) // a container of c still runs
	if err != nil {
		t.Fatal(err)
	}
	if freed < 10000 {
		t.Fatalf("freed %d bytes", freed)
	}
	for _, l := range append(lowersA, lowersC...) {
		if _, err := os.Stat(l); err != nil {
			t.Fatalf("%s removed: %v", l, err)
		}
	}
	if _, err := os.Stat(lowersB[0]); err == nil {
		t.Fatal("snapshot of removed image b kept")
	}
	var st unix.Stat_t
	if err := unix.Lstat(lowersB[1], &st); err != nil {
		t.Fatal("shared base snapshot removed")
	}
}
