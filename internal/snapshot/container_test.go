package snapshot

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/layer"
)

// TestContainerDiff mounts an image under an upper directory, changes the
// container's files through the overlay, and checks what WriteDiff and
// Changes make of the upper directory.
func TestContainerDiff(t *testing.T) {
	needRoot(t)
	is, ss := stores(t)
	l1 := tarOf(t, dir("etc/"), file("etc/passwd", "root"), file("etc/hosts", "h"),
		dir("opt/"), dir("opt/old/"), file("opt/old/a", "a"), dir("opt/old/sub/"), file("opt/old/sub/x", "x"),
		dir("var/"), file("var/log", "l"))
	l2 := tarOf(t, dir("usr/"), file("usr/tool", "t"))
	img := testImage(t, is, "test/diff:1", "gzip", l1, l2)
	lowers, err := ss.Prepare(t.Context(), is, img)
	if err != nil {
		t.Fatal(err)
	}
	upper, work := upperT(t)
	m := mountT(t, lowers, upper, work)

	// The container's changes.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(m, "etc/passwd")))
	must(os.WriteFile(filepath.Join(m, "etc/hosts"), []byte("changed"), 0o644))
	must(os.RemoveAll(filepath.Join(m, "opt/old")))
	must(os.Mkdir(filepath.Join(m, "opt/old"), 0o755))
	must(os.WriteFile(filepath.Join(m, "opt/old/c"), []byte("c"), 0o644))
	must(os.WriteFile(filepath.Join(m, "usr/one"), []byte("linked"), 0o644))
	must(os.Link(filepath.Join(m, "usr/one"), filepath.Join(m, "usr/two")))
	must(os.MkdirAll(filepath.Join(m, "srv/new"), 0o755))
	f, err := os.OpenFile(filepath.Join(m, "var/log"), os.O_APPEND|os.O_WRONLY, 0)
	must(err)
	f.WriteString("more")
	must(f.Close())

	changes, err := layer.Changes(upper, lowers)
	must(err)
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	want := "C /etc\nC /etc/hosts\nD /etc/passwd\nC /opt\nC /opt/old\nD /opt/old/a\nA /opt/old/c\nD /opt/old/sub\n" +
		"A /srv\nA /srv/new\nC /usr\nA /usr/one\nA /usr/two\nC /var/log"
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("changes:\n%s\nwant:\n%s", got, want)
	}

	var buf bytes.Buffer
	epoch := time.Unix(0, 0)
	id, _, err := layer.WriteDiff(t.Context(), upper, &buf, layer.DiffOptions{SourceDateEpoch: &epoch})
	must(err)
	names := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		names[h.Name] = h
	}
	for _, n := range []string{"etc/.wh.passwd", "opt/old/.wh..wh..opq", "opt/old/c", "etc/hosts", "usr/one"} {
		if names[n] == nil {
			t.Fatalf("diff lacks %s: %v", n, keys(names))
		}
	}
	if h := names["usr/two"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/one" {
		t.Fatalf("usr/two is not a hard link to usr/one: %+v", h)
	}

	// The diff, committed as a layer above the image, shows what the
	// container saw.
	img2 := testImage(t, is, "test/diff:2", "", l1, l2, buf.Bytes())
	if digestOf(buf.Bytes()) != id {
		t.Fatal("diff ID is not the tar's digest")
	}
	lowers2, err := ss.Prepare(t.Context(), is, img2)
	must(err)
	m2 := mountT(t, lowers2, "", "")
	mustNotExist(t, filepath.Join(m2, "etc/passwd"))
	mustNotExist(t, filepath.Join(m2, "opt/old/a"))
	mustNotExist(t, filepath.Join(m2, "opt/old/sub"))
	if readFile(t, filepath.Join(m2, "etc/hosts")) != "changed" || readFile(t, filepath.Join(m2, "opt/old/c")) != "c" {
		t.Fatal("committed layer does not show the container's files")
	}
}

func keys(m map[string]*tar.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMountBindAndUnmount covers the cases without an overlay and
// Unmount's idempotence.
func TestMountBindAndUnmount(t *testing.T) {
	needRoot(t)
	upper, work := upperT(t)
	os.WriteFile(filepath.Join(upper, "f"), []byte("u"), 0o644)
	m := mountT(t, nil, upper, work)
	if readFile(t, filepath.Join(m, "f")) != "u" {
		t.Fatal("no lowers: upper not bound")
	}
	if err := os.WriteFile(filepath.Join(m, "g"), nil, 0o644); err != nil {
		t.Fatalf("no lowers: not writable: %v", err)
	}
	ro := mountT(t, []string{upper}, "", "")
	if err := os.WriteFile(filepath.Join(ro, "h"), nil, 0o644); err == nil {
		t.Fatal("one lower, no upper: writable")
	}
	if err := Unmount(ro); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(ro); err != nil {
		t.Fatalf("second unmount: %v", err)
	}
	if err := Unmount(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatalf("unmount of a missing path: %v", err)
	}
	if err := Mount(nil, "", "", m); err == nil {
		t.Fatal("nothing to mount accepted")
	}
}
