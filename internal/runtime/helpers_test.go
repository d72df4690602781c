package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireRunc skips a test without root, runc or busybox, unless the run
// demands them (STRATA_E2E_REQUIRE=1, as scripts/test.sh sets).
func requireRunc(t *testing.T) {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("STRATA_E2E_REQUIRE") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("containers need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		skip("runc is not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		skip("busybox-static is not installed")
	}
}

// busyboxLayer makes a layer directory holding a static busybox with all
// its applets, /etc/passwd and /etc/group, and returns it.
func busyboxLayer(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layer")
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", a))
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
