package layer

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"
)

// needRoot skips tests that chown, mknod and set trusted xattrs.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, trusted.* xattrs): run as root")
	}
}

func hdrTar(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
			h.Linkname = ""
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1600000000, 0)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reg is a regular file entry; its body travels in Linkname until hdrTar.
func reg(name, body string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Linkname: body, Mode: 0o644}
}
func dirH(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}
}
func symH(name, to string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: to, Mode: 0o777}
}
func linkH(name, to string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: to}
}

// hostState is what the hostile tests watch outside the snapshot.
type hostState struct {
	passwd, etc unix.Stat_t
	etcNames    []string
}

func watchHost(t *testing.T) hostState {
	t.Helper()
	var s hostState
	if err := unix.Lstat("/etc/passwd", &s.passwd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat("/etc", &s.etc); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.etcNames, err = readDirNames("/etc"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s hostState) check(t *testing.T) {
	t.Helper()
	now := watchHost(t)
	if now.passwd.Nlink != s.passwd.Nlink || now.passwd.Size != s.passwd.Size || now.passwd.Mtim != s.passwd.Mtim ||
		now.passwd.Mode != s.passwd.Mode || now.passwd.Uid != s.passwd.Uid {
		t.Fatalf("/etc/passwd changed: %+v -> %+v", s.passwd, now.passwd)
	}
	if now.etc.Mtim != s.etc.Mtim || len(now.etcNames) != len(s.etcNames) {
		t.Fatalf("/etc changed")
	}
}

func marker(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "strata-marker-" + hex.EncodeToString(b)
}

// TestApplyHostile extracts layers that try to write outside the snapshot
// and checks each is confined to it or refused, with the host unchanged.
func TestApplyHostile(t *testing.T) {
	needRoot(t)
	m := marker(t)
	hostMarker := filepath.Join("/tmp", m)
	t.Cleanup(func() { os.Remove(hostMarker) })
	cases := []struct {
		name   string
		layer  []byte
		inside string // a path the confined entry lands on, "" if refused
	}{
		{"dotdot", hdrTar(t, reg("../../../../../../../../tmp/"+m, "x")), "tmp/" + m},
		{"absolute name", hdrTar(t, reg("/tmp/"+m, "x")), "tmp/" + m},
		{"absolute symlink then file under it", hdrTar(t, symH("etc", "/etc"), reg("etc/evil", "x")), ""},
		{"absolute symlink to a dir then file", hdrTar(t, symH("x", "/tmp/"), reg("x/"+m, "x")), "tmp/" + m},
		{"absolute symlink then dir then file", hdrTar(t, symH("x", "/tmp"), dirH("x/sub/"), reg("x/sub/"+m, "x")), "tmp/sub/" + m},
		{"hard link to a host path", hdrTar(t, linkH("passwd", "/etc/passwd")), ""},
		{"hard link climbing out", hdrTar(t, linkH("passwd", "../../../../../etc/passwd")), ""},
		{"hard link through a symlink", hdrTar(t, symH("e", "/etc"), linkH("passwd", "e/passwd")), ""},
		{"relative symlink climbing out then a file", hdrTar(t, symH("up", "../../../../../../../.."), reg("up/tmp/"+m, "x")), "tmp/" + m},
		{"relative symlink chain", hdrTar(t, dirH("a/"), symH("a/b", "../../.."), symH("c", "a/b/tmp"), reg("c/"+m, "x")), "tmp/" + m},
		{"device node outside", hdrTar(t, &tar.Header{Typeflag: tar.TypeChar, Name: "../../tmp/" + m, Devmajor: 1, Devminor: 3, Mode: 0o666}), "tmp/" + m},
		{"whiteout through a symlink", hdrTar(t, symH("x", "/tmp"), reg("x/.wh."+m, "")), "tmp/" + m},
		{"whiteout of dotdot", hdrTar(t, reg(".wh..", "")), ""},
		{"write through a symlink to a file", hdrTar(t, symH("p", "/etc/passwd"), reg("p", "pwned")), "p"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := watchHost(t)
			dir := t.TempDir()
			root := filepath.Join(dir, "snap")
			os.Mkdir(root, 0o755)
			_, err := Apply(t.Context(), root, bytes.NewReader(c.layer))
			host.check(t)
			if _, serr := os.Lstat(hostMarker); serr == nil {
				t.Fatalf("%s was created on the host", hostMarker)
			}
			if _, serr := os.Lstat("/etc/evil"); serr == nil {
				t.Fatal("/etc/evil was created on the host")
			}
			// Nothing beside the snapshot directory either.
			if names, _ := readDirNames(dir); len(names) != 1 {
				t.Fatalf("beside the snapshot: %v", names)
			}
			if c.inside == "" {
				if err == nil {
					t.Fatal("extraction succeeded; want it refused")
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(root, c.inside)); err != nil {
				t.Fatalf("confined entry not at %s: %v", c.inside, err)
			}
		})
	}
}

// TestApplyKeepsMetadata checks owners, modes, setuid, xattrs, file
// capabilities, times, links, devices and fifos.
func TestApplyKeepsMetadata(t *testing.T) {
	needRoot(t)
	mtime := time.Unix(1500000000, 0)
	capability := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_bind_service
	exe := reg("usr/bin/ping", "ELF")
	exe.Uid, exe.Gid, exe.Mode, exe.ModTime = 0, 0, 0o4755, mtime
	exe.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": capability, "SCHILY.xattr.user.note": "hi",
		"SCHILY.xattr.trusted.overlay.opaque": "y"}
	owned := reg("home/u/f", "data")
	owned.Uid, owned.Gid, owned.Mode = 1000, 1001, 0o600
	d := dirH("usr/")
	d.ModTime = mtime
	layer := hdrTar(t, d, dirH("usr/bin/"), exe, dirH("home/"), dirH("home/u/"), owned,
		symH("usr/bin/p", "ping"), linkH("usr/bin/ping2", "usr/bin/ping"),
		&tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3, Mode: 0o666},
		&tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600},
		&tar.Header{Typeflag: tar.TypeDir, Name: "shared/", Mode: 0o2775, Gid: 50},
		&tar.Header{Typeflag: tar.TypeReg, Name: "shared/open", Mode: 0o666},
		&tar.Header{Typeflag: tar.TypeReg, Name: "shared/closed", Mode: 0})
	root := t.TempDir()
	n, err := Apply(t.Context(), root, bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len("ELF")+len("data")) {
		t.Fatalf("size %d", n)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(root, "usr/bin/ping"), &st)
	if st.Mode&0o7777 != 0o4755 || st.Nlink != 2 || st.Mtim.Sec != mtime.Unix() {
		t.Fatalf("ping: mode %o nlink %d mtime %d", st.Mode, st.Nlink, st.Mtim.Sec)
	}
	if v, err := getXattr(filepath.Join(root, "usr/bin/ping"), "security.capability"); err != nil || v != capability {
		t.Fatalf("capability %q %v", v, err)
	}
	if v, _ := getXattr(filepath.Join(root, "usr/bin/ping"), "user.note"); v != "hi" {
		t.Fatalf("user.note %q", v)
	}
	if _, err := getXattr(filepath.Join(root, "usr/bin/ping"), OverlayOpaqueXattr); err == nil {
		t.Fatal("an overlayfs xattr from the tar was applied")
	}
	unix.Lstat(filepath.Join(root, "home/u/f"), &st)
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o600 {
		t.Fatalf("home/u/f: %d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	unix.Lstat(filepath.Join(root, "usr"), &st)
	if st.Mtim.Sec != mtime.Unix() {
		t.Fatalf("usr mtime %d, want %d (directory times are set last)", st.Mtim.Sec, mtime.Unix())
	}
	if l, _ := os.Readlink(filepath.Join(root, "usr/bin/p")); l != "ping" {
		t.Fatalf("symlink %q", l)
	}
	unix.Lstat(filepath.Join(root, "dev/null"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Fatalf("dev/null mode %o rdev %d", st.Mode, st.Rdev)
	}
	unix.Lstat(filepath.Join(root, "run/fifo"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Fatalf("fifo mode %o", st.Mode)
	}
	// Neither the umask nor a setgid directory's group leaks in.
	unix.Lstat(filepath.Join(root, "shared"), &st)
	if st.Mode&0o7777 != 0o2775 || st.Gid != 50 {
		t.Fatalf("shared: %o gid %d", st.Mode&0o7777, st.Gid)
	}
	for name, mode := range map[string]uint32{"shared/open": 0o666, "shared/closed": 0} {
		unix.Lstat(filepath.Join(root, name), &st)
		if st.Mode&0o7777 != mode || st.Gid != 0 {
			t.Fatalf("%s: mode %o gid %d, want %o gid 0", name, st.Mode&0o7777, st.Gid, mode)
		}
	}
}

// TestApplyWhiteouts checks the OCI whiteouts become overlayfs's.
func TestApplyWhiteouts(t *testing.T) {
	needRoot(t)
	layer := hdrTar(t, dirH("etc/"), reg("etc/.wh.gone", ""), dirH("opt/"), reg("opt/.wh..wh..opq", ""),
		reg("opt/new", "n"), reg(".wh..wh.plnk", ""), reg("var/lib/.wh..wh..opq", ""))
	for name, blob := range map[string][]byte{"plain": layer, "gzip": gz(t, layer), "zstd": zst(t, layer)} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := Apply(t.Context(), root, bytes.NewReader(blob)); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, "etc/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Fatalf("etc/gone is not a whiteout: %v %o", err, st.Mode)
			}
			for _, d := range []string{"opt", "var/lib"} {
				if v, err := getXattr(filepath.Join(root, d), OverlayOpaqueXattr); err != nil || v != "y" {
					t.Fatalf("%s not opaque: %q %v", d, v, err)
				}
			}
			if names, _ := readDirNames(root); len(names) != 3 {
				t.Fatalf("root holds %v", names)
			}
		})
	}
}

// TestApplyReplaces checks later entries replace earlier ones of the
// same name, whatever their types.
func TestApplyReplaces(t *testing.T) {
	needRoot(t)
	layer := hdrTar(t, reg("a", "1"), dirH("a/"), reg("a/x", "x"), reg("a", "2"), symH("b", "a"), dirH("b/"), reg("b/y", "y"))
	root := t.TempDir()
	if _, err := Apply(t.Context(), root, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a")); string(b) != "2" {
		t.Fatalf("a = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "b/y")); string(b) != "y" {
		t.Fatalf("b/y = %q", b)
	}
}

// TestApplyErrors checks bad input is reported with the entry's name.
func TestApplyErrors(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	if _, err := Apply(t.Context(), root, bytes.NewReader([]byte("not a tar at all, not at all"))); !errors.Is(err, ErrNotAnArchive) {
		t.Fatalf("garbage: %v", err)
	}
	full := hdrTar(t, reg("big", string(make([]byte, 10000))))
	if _, err := Apply(t.Context(), t.TempDir(), bytes.NewReader(full[:3000])); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	var ee *EntryError
	if _, err := Apply(t.Context(), t.TempDir(), bytes.NewReader(hdrTar(t, linkH("x", "missing")))); !errors.As(err, &ee) || ee.Name != "x" {
		t.Fatalf("dangling link: %v", err)
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// FuzzApply extracts arbitrary tars (seeded with hostile ones) and checks
// that nothing appears beside the snapshot directory, whatever the input.
func FuzzApply(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("needs root (chown, mknod): run as root")
	}
	f.Add(hdrTar(f, reg("../../x", "x")))
	f.Add(hdrTar(f, symH("etc", "/etc"), reg("etc/evil", "x")))
	f.Add(hdrTar(f, symH("up", "../.."), reg("up/x", "x"), linkH("l", "up/x")))
	f.Add(hdrTar(f, dirH("a/"), symH("a/b", "../../.."), reg("a/b/c/.wh.d", ""), reg("a/b/.wh..wh..opq", "")))
	f.Add(hdrTar(f, reg("a", "1"), dirH("a/"), symH("a", "/"), reg("a/x", "2")))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		root := filepath.Join(dir, "snap")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		Apply(t.Context(), root, bytes.NewReader(b))
		if names, _ := readDirNames(dir); len(names) != 1 {
			t.Fatalf("beside the snapshot: %v", names)
		}
		if _, err := os.Lstat("/etc/evil"); err == nil {
			t.Fatal("/etc/evil created")
		}
	})
}
