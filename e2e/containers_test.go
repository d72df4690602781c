package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cenv is a store with a busybox image for container tests; its cleanup
// removes every container, monitor and mount the test left, even when it
// failed half-way.
type cenv struct {
	*env
}

// newContainerEnv needs root, runc and busybox-static; it imports busybox
// (every applet, a user "app") as "busybox".
func newContainerEnv(t *testing.T) *cenv {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("STRATA_E2E_REQUIRE") == "1" {
			t.Fatal("container tests need root")
		}
		t.Skip("containers need root")
	}
	requireTool(t, "runc")
	e := &cenv{newEnv(t)}
	t.Cleanup(e.cleanup)
	e.ok("import", fullBusyboxTar(t), "busybox")
	return e
}

// fullBusyboxTar is busyboxTar with every applet, /etc/group and a user.
func fullBusyboxTar(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if os.Getenv("STRATA_E2E_REQUIRE") == "1" {
			t.Fatal("busybox-static is not installed (scripts/test.sh installs it)")
		}
		t.Skip("no /bin/busybox")
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	entries := []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/busybox", typ: tar.TypeReg, mode: 0o755, body: bb},
		{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/passwd", typ: tar.TypeReg, mode: 0o644, body: []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")},
		{name: "./etc/group", typ: tar.TypeReg, mode: 0o644, body: []byte("root:x:0:\napp:x:1000:\n")},
		{name: "./home/", typ: tar.TypeDir, mode: 0o755},
		{name: "./home/app/", typ: tar.TypeDir, mode: 0o755},
		{name: "./root/", typ: tar.TypeDir, mode: 0o700},
		{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			entries = append(entries, tarEntry{name: "./bin/" + a, typ: tar.TypeSymlink, link: "busybox", mode: 0o777})
		}
	}
	p := filepath.Join(t.TempDir(), "busybox-full.tar")
	if err := os.WriteFile(p, makeTar(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runT runs strata with a time limit (see env.runLimited).
func (e *cenv) runT(timeout time.Duration, args ...string) result {
	e.t.Helper()
	return e.runLimited(nil, timeout, args...)
}

// okT is ok with a time limit of a minute.
func (e *cenv) okT(args ...string) string {
	e.t.Helper()
	r := e.runT(time.Minute, args...)
	if r.code != 0 {
		e.t.Fatalf("strata %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// state reads a container's state.json (for what inspect does not show:
// the monitor's PID).
func (e *cenv) state(id string) map[string]any {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "containers", id, "state.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// inspect returns a container's inspect document.
func (e *cenv) inspect(ref string) containerDoc {
	e.t.Helper()
	var docs []containerDoc
	if err := json.Unmarshal([]byte(e.okT("inspect", ref)), &docs); err != nil || len(docs) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	return docs[0]
}

type containerDoc struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status    string
		Running   bool
		Pid       int
		ExitCode  int
		OOMKilled bool
	}
	NetworkSettings struct {
		Ports map[string][]struct{ HostIp, HostPort string }
	}
}

// cleanup removes what the test left: containers (rm -f), then any
// monitor of this store still alive and any mount under the store.
func (e *cenv) cleanup() {
	if ids, err := e.cmdOutput("ps", "-aq", "--no-trunc"); err == nil {
		for _, id := range strings.Fields(ids) {
			e.cmdOutput("rm", "-f", id)
		}
	}
	for _, pid := range monitorsOf(e.root) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, m := range mountsUnder(e.root) {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

// cmdOutput runs strata quietly for cleanup, bounded in time.
func (e *cenv) cmdOutput(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, args...)
	cmd.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
	out, err := cmd.Output()
	return string(out), err
}

// monitorsOf lists the PIDs of strata processes working on root.
func monitorsOf(root string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, en := range ents {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + en.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte("monitor\x00")) && bytes.Contains(b, []byte(root+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append([]string{f[4]}, out...)
		}
	}
	return out
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
