package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRegistry runs the CNCF distribution server (Debian's docker-registry)
// on a free 127.0.0.1 port with storage of the test's own, and returns its
// host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin := requireTool(t, "docker-registry")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry did not start on %s", addr)
	return ""
}

// pushWithSkopeo puts a strata image into the registry with skopeo, the
// peer, from a strata save archive.
func pushWithSkopeo(t *testing.T, e *env, image, dest string) {
	t.Helper()
	requireTool(t, "skopeo")
	archive := filepath.Join(t.TempDir(), "img.tar")
	e.ok("save", "-o", archive, image)
	out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci-archive:"+archive, "docker://"+dest).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
}

func TestPullFromTheCNCFRegistry(t *testing.T) {
	addr := startRegistry(t)
	src := newEnv(t)
	src.ok("import", busyboxTar(t), "busybox")
	id := strings.TrimSpace(src.ok("inspect", "-f", "{{.Id}}", "busybox"))
	pushWithSkopeo(t, src, "busybox", addr+"/team/bb:v1")

	e := newEnv(t)
	out := e.ok("pull", addr+"/team/bb:v1")
	for _, want := range []string{"v1: Pulling from " + addr + "/team/bb", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + addr + "/team/bb:v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", addr+"/team/bb:v1")); got != id {
		t.Fatalf("pulled image ID %s, pushed %s", got, id)
	}
	if out := e.ok("pull", addr+"/team/bb:v1"); !strings.Contains(out, "Already exists") || !strings.Contains(out, "up to date") {
		t.Fatalf("second pull:\n%s", out)
	}
	// By digest too.
	digest := strings.TrimSpace(e.ok("inspect", "-f", "{{.Descriptor.digest}}", addr+"/team/bb:v1"))
	e2 := newEnv(t)
	e2.ok("pull", addr+"/team/bb@"+digest)
	if out := e2.ok("images", "-q", "--no-trunc"); strings.TrimSpace(out) != id {
		t.Fatalf("pull by digest: %q", out)
	}

	// A tag the registry lacks: a clear error, nothing stored.
	before := e.snapshot()
	r := e.fails("team/bb:nope", "pull", addr+"/team/bb:nope")
	if !strings.Contains(r.stderr, "MANIFEST_UNKNOWN") && !strings.Contains(r.stderr, "manifest unknown") {
		t.Errorf("error does not say the manifest is unknown: %s", r.stderr)
	}
	e.assertUnchanged(before)

	// build --pull fetches its base.
	e3 := newEnv(t)
	dir := project(t, map[string]string{"Dockerfile": "FROM " + addr + "/team/bb:v1\nCOPY app.py /\n", "app.py": "x"})
	if _, out := e3.build("--pull", "-t", "pulled", dir); !strings.Contains(out, "Pull complete") {
		t.Fatalf("build --pull did not pull:\n%s", out)
	}
	// Without --pull an unknown base is an error, not a download.
	e4 := newEnv(t)
	e4.fails("no such image", "build", dir)
}
