package snapshot

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"path/filepath"
	"testing"
)

// TestPrepareMountWhiteouts stacks two layers, the second deleting a file
// of the first and making a directory opaque, and mounts them.
func TestPrepareMountWhiteouts(t *testing.T) {
	needRoot(t)
	for _, how := range []string{"", "gzip", "zstd"} {
		t.Run("compression="+how, func(t *testing.T) {
			is, ss := stores(t)
			l1 := tarOf(t, dir("etc/"), file("etc/passwd", "root"), file("etc/gone", "x"),
				dir("opt/"), dir("opt/old/"), file("opt/old/a", "a"), file("opt/keep", "k"))
			l2 := tarOf(t, dir("etc/"), file("etc/.wh.gone", ""), dir("opt/old/"),
				file("opt/old/.wh..wh..opq", ""), file("opt/old/b", "b"))
			img := testImage(t, is, "test/wh:1", how, l1, l2)
			lowers, err := ss.Prepare(t.Context(), is, img)
			if err != nil {
				t.Fatal(err)
			}
			if len(lowers) != 2 || lowers[0] != ss.Path(ChainIDs([]v1.Hash{digestOf(l1), digestOf(l2)})[1]) {
				t.Fatalf("lowers %v", lowers)
			}
			m := mountT(t, lowers, "", "")
			if got := readFile(t, filepath.Join(m, "etc/passwd")); got != "root" {
				t.Fatalf("etc/passwd = %q", got)
			}
			mustNotExist(t, filepath.Join(m, "etc/gone"))
			mustNotExist(t, filepath.Join(m, "opt/old/a"))
			if got := readFile(t, filepath.Join(m, "opt/old/b")); got != "b" {
				t.Fatalf("opt/old/b = %q", got)
			}
			if got := readFile(t, filepath.Join(m, "opt/keep")); got != "k" {
				t.Fatalf("opt/keep = %q", got)
			}
		})
	}
}
