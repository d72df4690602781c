package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeUpper builds an upper directory as overlayfs leaves it: a new file,
// a hard-linked pair, a whiteout, an opaque directory, a file with a
// capability, a symlink; with every time set to mtime.
func makeUpper(t *testing.T, mtime time.Time) string {
	t.Helper()
	u := filepath.Join(t.TempDir(), "upper")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "opt/old", "usr/bin"} {
		must(os.MkdirAll(filepath.Join(u, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(u, "etc/new"), []byte("new"), 0o640))
	must(os.Chown(filepath.Join(u, "etc/new"), 1000, 1000))
	must(os.WriteFile(filepath.Join(u, "usr/bin/a"), []byte("linked"), 0o755))
	must(os.Link(filepath.Join(u, "usr/bin/a"), filepath.Join(u, "usr/bin/b")))
	must(unix.Mknod(filepath.Join(u, "etc/gone"), unix.S_IFCHR, 0))
	must(unix.Setxattr(filepath.Join(u, "opt/old"), OverlayOpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(filepath.Join(u, "opt/old/fresh"), []byte("f"), 0o644))
	must(os.WriteFile(filepath.Join(u, "usr/bin/ping"), []byte("ELF"), 0o755))
	must(unix.Setxattr(filepath.Join(u, "usr/bin/ping"), "security.capability",
		[]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0))
	must(os.Symlink("../etc/new", filepath.Join(u, "usr/link")))
	filepath.Walk(u, func(p string, _ os.FileInfo, _ error) error {
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	return u
}

func tarHeaders(t *testing.T, b []byte) []*tar.Header {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// TestWriteDiff checks whiteouts, opaque directories, hard links, owners,
// capabilities and the order of entries.
func TestWriteDiff(t *testing.T) {
	needRoot(t)
	u := makeUpper(t, time.Unix(1700000000, 5))
	var buf bytes.Buffer
	id, size, err := WriteDiff(t.Context(), u, &buf, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(buf.Len()) || id.Hex != digestHex(buf.Bytes()) {
		t.Fatalf("size %d of %d, id %s", size, buf.Len(), id)
	}
	hdrs := tarHeaders(t, buf.Bytes())
	var names []string
	byName := map[string]*tar.Header{}
	for _, h := range hdrs {
		names = append(names, h.Name)
		byName[h.Name] = h
	}
	want := []string{"etc/", "etc/.wh.gone", "etc/new", "opt/", "opt/old/", "opt/old/.wh..wh..opq", "opt/old/fresh",
		"usr/", "usr/bin/", "usr/bin/a", "usr/bin/b", "usr/bin/ping", "usr/link"}
	if len(names) != len(want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %q, want %q", names, want)
		}
	}
	if h := byName["usr/bin/b"]; h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/a" {
		t.Fatalf("usr/bin/b: %c %q", h.Typeflag, h.Linkname)
	}
	if h := byName["etc/new"]; h.Uid != 1000 || h.Gid != 1000 || h.Mode != 0o640 || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("etc/new: %d:%d %o %v", h.Uid, h.Gid, h.Mode, h.ModTime)
	}
	if h := byName["usr/bin/ping"]; h.PAXRecords["SCHILY.xattr.security.capability"] == "" {
		t.Fatal("capability lost")
	}
	if h := byName["opt/old/"]; h.PAXRecords[paxXattr+OverlayOpaqueXattr] != "" {
		t.Fatal("overlayfs xattr copied into the diff")
	}
	for _, h := range hdrs {
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.Uname != "" || h.Gname != "" {
			t.Fatalf("%s: atime/ctime/names written", h.Name)
		}
	}

	// Round trip: applying the diff gives back the upper directory.
	back := t.TempDir()
	if _, err := Apply(t.Context(), back, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(back, "usr/bin/a"), &a)
	unix.Lstat(filepath.Join(back, "usr/bin/b"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Fatal("hard link did not round-trip")
	}
	var again bytes.Buffer
	id2, _, err := WriteDiff(t.Context(), back, &again, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id2 != id {
		t.Fatalf("diff of the applied diff differs: %s vs %s", id2, id)
	}
}

// TestWriteDiffDeterministic writes two uppers with equal content made at
// different times: with SourceDateEpoch their diffs are byte-identical and
// every time is clamped.
func TestWriteDiffDeterministic(t *testing.T) {
	needRoot(t)
	u1 := makeUpper(t, time.Now())
	u2 := makeUpper(t, time.Now().Add(time.Hour))
	epoch := time.Unix(0, 0)
	var b1, b2 bytes.Buffer
	id1, _, err := WriteDiff(t.Context(), u1, &b1, DiffOptions{SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	id2, _, err := WriteDiff(t.Context(), u2, &b2, DiffOptions{SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 || !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatalf("diffs differ: %s %s", id1, id2)
	}
	for _, h := range tarHeaders(t, b1.Bytes()) {
		if h.ModTime.Unix() != 0 {
			t.Fatalf("%s: mtime %v not clamped", h.Name, h.ModTime)
		}
	}
	// Clamping keeps earlier times.
	old := time.Unix(1000, 0)
	later := time.Unix(2000, 0)
	u3 := makeUpper(t, old)
	var b3 bytes.Buffer
	if _, _, err := WriteDiff(t.Context(), u3, &b3, DiffOptions{SourceDateEpoch: &later}); err != nil {
		t.Fatal(err)
	}
	for _, h := range tarHeaders(t, b3.Bytes()) {
		if h.ModTime.Unix() != 1000 {
			t.Fatalf("%s: mtime %v, want 1000", h.Name, h.ModTime)
		}
	}
}

// TestWriteDiffRefusesRedirects checks an upper with overlayfs redirects
// (renamed directories) is refused rather than written wrong.
func TestWriteDiffRefusesRedirects(t *testing.T) {
	needRoot(t)
	u := t.TempDir()
	os.Mkdir(filepath.Join(u, "d"), 0o755)
	unix.Setxattr(filepath.Join(u, "d"), "trusted.overlay.redirect", []byte("/old"), 0)
	if _, _, err := WriteDiff(t.Context(), u, io.Discard, DiffOptions{}); err == nil {
		t.Fatal("redirect accepted")
	}
}

func digestHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
