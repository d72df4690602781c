package layer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tree makes files ("name"), directories ("name/"), whiteouts ("name!")
// and opaque directories ("name/!") under root.
func tree(t *testing.T, root string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, strings.TrimSuffix(strings.TrimSuffix(p, "!"), "/"))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(p, "/!"):
			if err = os.MkdirAll(full, 0o755); err == nil {
				err = unix.Setxattr(full, OverlayOpaqueXattr, []byte("y"), 0)
			}
		case strings.HasSuffix(p, "!"):
			err = unix.Mknod(full, unix.S_IFCHR, 0)
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		default:
			err = os.WriteFile(full, []byte(p), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestChanges checks A/C/D as `docker diff` prints them, through lower
// layers that have whiteouts and opaque directories of their own.
func TestChanges(t *testing.T) {
	needRoot(t)
	bottom := tree(t, t.TempDir(), "etc/passwd", "etc/hosts", "etc/gone", "opt/old/a", "opt/old/sub/x",
		"var/keep", "srv/hidden/y", "home/f")
	top := tree(t, t.TempDir(), "etc/hosts!", "srv/!", "srv/z", "home")
	upper := tree(t, t.TempDir(), "etc/passwd", "etc/gone!", "etc/new", "etc/hosts", "opt/old/!", "opt/old/b",
		"newdir/f", "srv/hidden/w", "home/", "var/keep")
	// var/ as overlayfs copies it up: same metadata as below; only a file
	// in it changed, so docker diff does not list it.
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(bottom, "var"), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(upper, "var"), []unix.Timespec{st.Atim, st.Mtim}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := Changes(upper, []string{top, bottom})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"C /etc", "D /etc/gone", "A /etc/hosts", "A /etc/new", "C /etc/passwd",
		"C /home",
		"A /newdir", "A /newdir/f",
		"C /opt", "C /opt/old", "D /opt/old/a", "A /opt/old/b", "D /opt/old/sub",
		"C /srv", "A /srv/hidden", "A /srv/hidden/w",
		"C /var/keep",
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// With no lowers, everything is added.
	got, err = Changes(tree(t, t.TempDir(), "a/b"), nil)
	if err != nil || len(got) != 2 || got[0].String() != "A /a" || got[1].String() != "A /a/b" {
		t.Fatalf("no lowers: %v %v", got, err)
	}
}
