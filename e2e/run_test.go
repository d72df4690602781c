package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunEchoAndExitCodes(t *testing.T) {
	e := newContainerEnv(t)
	if out := e.okT("run", "--rm", "busybox", "echo", "hi"); out != "hi\n" {
		t.Fatalf("run echo hi printed %q", out)
	}
	waitFlushed(t, e.root, "the first run")
	r := e.runT(time.Minute, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exit 3: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.runT(time.Minute, "run", "--rm", "busybox", "no-such-command")
	if r.code != 127 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "no-such-command") || strings.Contains(r.stderr, "runc") {
		t.Fatalf("missing command: code %d stderr %q, want 127 and one Error line naming it", r.code, r.stderr)
	}
	e.fails("unable to find image 'nope' locally", "run", "--rm", "nope", "true")
	if ps := e.okT("ps", "-aq"); ps != "" {
		t.Fatalf("--rm left containers: %q", ps)
	}
}

// --runtime crun runs the same spec on crun. Debian 12's crun (1.8) reads
// runtime-spec versions up to 1.1 only, and refuses hybrid cgroup layouts
// (cgroup v1 with controllers on the v2 mount, as on this project's
// machines): there the test checks what it can, that crun accepted the
// spec and said why it could not run it, and strata passed that on.
func TestRunWithCrun(t *testing.T) {
	e := newContainerEnv(t)
	requireTool(t, "crun")
	r := e.runT(time.Minute, "run", "--rm", "--runtime", "crun", "busybox", "sh", "-c", "echo hi from crun; exit 3")
	if strings.Contains(r.stderr, "unknown version") {
		t.Fatalf("crun refused strata's spec version: %q", r.stderr)
	}
	if strings.Contains(r.stderr, "cgroups in hybrid mode not supported") {
		if r.code == 0 || !strings.HasPrefix(r.stderr, "Error: ") {
			t.Fatalf("crun's refusal: code %d stderr %q, want an Error line and a failure", r.code, r.stderr)
		}
		t.Skipf("crun cannot run containers on this machine's cgroup layout: %s", strings.TrimSpace(r.stderr))
	}
	if r.code != 3 || r.stdout != "hi from crun\n" {
		t.Fatalf("crun: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if ps := e.okT("ps", "-aq"); ps != "" {
		t.Fatalf("--rm left containers: %q", ps)
	}
}

func TestRunConfigEnvUserWorkdir(t *testing.T) {
	e := newContainerEnv(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\n"), 0o644)
	out := e.okT("run", "--rm", "-e", "A=1", "--env-file", envFile, "-w", "/tmp", "-u", "app", "busybox",
		"sh", "-c", `echo $A $FROM_FILE; pwd; id -u; id -g; echo $HOME; hostname | wc -c; cat /etc/hostname | wc -c; grep -c localhost /etc/hosts`)
	if want := "1 yes\n/tmp\n1000\n1000\n/home/app\n13\n13\n2\n"; out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	out = e.okT("run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint")
	if out != "from entrypoint\n" {
		t.Fatalf("--entrypoint: %q", out)
	}
	e.fails("unable to find user nobody", "run", "--rm", "-u", "nobody", "busybox", "true")
	// Docker's defaults: no_new_privileges, its capability set, masked /proc paths.
	out = e.okT("run", "--rm", "busybox", "sh", "-c", "grep -E '^(NoNewPrivs|CapEff)' /proc/self/status; wc -c < /proc/timer_list")
	if !strings.Contains(out, "NoNewPrivs:\t1") || !strings.Contains(out, "CapEff:\t00000000a80425fb") || !strings.HasSuffix(out, "0\n") {
		t.Fatalf("security defaults: %q", out)
	}
}

func TestRunIsolationDiffCommitRm(t *testing.T) {
	e := newContainerEnv(t)
	e.okT("run", "--name", "writer", "busybox", "sh", "-c", "echo data > /newfile; rm /bin/ls")
	r := e.runT(time.Minute, "run", "--rm", "busybox", "cat", "/newfile")
	if r.code == 0 {
		t.Fatal("another container of the same image sees the first one's file")
	}
	diff := e.okT("diff", "writer")
	for _, want := range []string{"A /newfile", "D /bin/ls", "C /bin"} {
		if !strings.Contains(diff, want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "/etc/hosts") || strings.Contains(diff, "/proc") {
		t.Errorf("diff shows strata's own mount points:\n%s", diff)
	}
	id := strings.TrimSpace(e.okT("commit", "-m", "add newfile", "writer", "committed:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if out := e.okT("run", "--rm", "committed:v1", "cat", "/newfile"); out != "data\n" {
		t.Fatalf("the committed image's container reads %q", out)
	}
	if r := e.runT(time.Minute, "run", "--rm", "committed:v1", "ls", "/"); r.code != 127 {
		t.Fatalf("ls deleted in the committed image: code %d", r.code)
	}
	// The image itself is unchanged.
	if r := e.runT(time.Minute, "run", "--rm", "busybox", "ls", "/newfile"); r.code == 0 {
		t.Fatal("the image gained the container's file")
	}
	history := e.okT("history", "committed:v1")
	if !strings.Contains(history, "add newfile") {
		t.Errorf("history lacks the commit:\n%s", history)
	}
	full := strings.TrimSpace(e.okT("inspect", "-f", "{{.Id}}", "writer"))
	snaps := snapshotCount(t, e.root)
	e.okT("rm", "writer")
	if _, err := os.Stat(filepath.Join(e.root, "containers", full)); !os.IsNotExist(err) {
		t.Fatalf("rm left the container's directory (upper dir): %v", err)
	}
	if n := snapshotCount(t, e.root); n != snaps || n == 0 {
		t.Fatalf("rm changed the snapshots: %d before, %d after", snaps, n)
	}
	e.fails("no such container: writer", "rm", "writer")
}

func snapshotCount(t *testing.T, root string) int {
	ents, err := os.ReadDir(filepath.Join(root, "snapshots", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// httpGet fetches http://127.0.0.1:port/path, retrying briefly while the
// server starts.
func httpGet(t *testing.T, port int, path string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for i := 0; i < 100; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Errorf("status %d, %v", resp.StatusCode, err)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET 127.0.0.1:%d%s: %v", port, path, last)
	return ""
}

func TestRunPublishedPorts(t *testing.T) {
	e := newContainerEnv(t)
	var ports []int
	for i, body := range []string{"one", "two"} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644)
		p := freePort(t)
		ports = append(ports, p)
		e.okT("run", "-d", "--name", "web"+strconv.Itoa(i), "-p", fmt.Sprintf("127.0.0.1:%d:80", p), "-v", dir+":/www:ro",
			"busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	}
	if got := httpGet(t, ports[0], "/index.html"); got != "one" {
		t.Fatalf("first container served %q", got)
	}
	if got := httpGet(t, ports[1], "/index.html"); got != "two" {
		t.Fatalf("second container served %q", got)
	}
	doc := e.inspect("web0")
	if b := doc.NetworkSettings.Ports["80/tcp"]; len(b) != 1 || b[0].HostPort != strconv.Itoa(ports[0]) {
		t.Fatalf("inspect ports: %+v", doc.NetworkSettings.Ports)
	}
	if ps := e.okT("ps"); !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp", ports[1])) {
		t.Fatalf("ps does not show the port:\n%s", ps)
	}
	// A host port in use: a clear error, and nothing created.
	before := e.okT("ps", "-aq")
	r := e.runT(time.Minute, "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", ports[0]), "busybox", "httpd", "-f", "-p", "80")
	if r.code == 0 || !strings.Contains(r.stderr, "port is already allocated") || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Fatalf("port in use: code %d stderr %q", r.code, r.stderr)
	}
	if after := e.okT("ps", "-aq"); after != before {
		t.Fatalf("a failed run left a container: %q -> %q", before, after)
	}
	// The private network: only loopback, and the host cannot be reached.
	if out := e.okT("run", "--rm", "busybox", "cat", "/proc/net/dev"); strings.Count(out, ":") != 1 || !strings.Contains(out, "lo:") {
		t.Fatalf("private network interfaces:\n%s", out)
	}
	get := func(port int) string {
		return fmt.Sprintf(`printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 %d`, port)
	}
	if r := e.runT(time.Minute, "run", "--rm", "busybox", "sh", "-c", get(ports[0])); strings.Contains(r.stdout, "one") {
		t.Fatal("a private container reached the host's loopback")
	}
	// Host networking reaches it.
	if out := e.okT("run", "--rm", "--network", "host", "busybox", "sh", "-c", get(ports[1])); !strings.HasSuffix(out, "two") {
		t.Fatalf("--network host fetched %q", out)
	}
	if out := e.okT("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"); strings.Count(out, ":") != 1 {
		t.Fatalf("--network none interfaces:\n%s", out)
	}
	e.okT("rm", "-f", "web0", "web1")
	if len(mountsUnder(e.root)) != 0 {
		t.Fatalf("mounts left: %v", mountsUnder(e.root))
	}
}

func TestRunDetachedLifecycle(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.okT("run", "-d", "--name", "counter", "busybox", "sh", "-c",
		`trap "echo bye; exit 0" TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done`))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want the ID", id)
	}
	// logs -f streams until the container stops.
	follow := exec.Command(strataBin, "logs", "-f", "counter")
	follow.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
	var fout strings.Builder
	follow.Stdout = &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	defer follow.Process.Kill()
	eventually(t, 20*time.Second, "logs has 5 lines", func() bool {
		return strings.Contains(e.okT("logs", "counter"), "line 4\n")
	})
	if out := e.okT("logs", "--tail", "1", "counter"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "line ") {
		t.Fatalf("logs --tail 1: %q", out)
	}
	start := time.Now()
	r := e.runT(time.Minute, "stop", "-t", "10", "counter")
	if r.code != 0 || r.stdout != "counter\n" || strings.Contains(r.stderr, "SIGKILL") || time.Since(start) > 5*time.Second {
		t.Fatalf("stop of a container handling SIGTERM: %+v after %v", r, time.Since(start))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end when the container stopped")
	}
	if !strings.Contains(fout.String(), "line 0\nline 1\n") || !strings.HasSuffix(fout.String(), "bye\n") {
		t.Fatalf("logs -f printed %q", fout.String())
	}
	if d := e.inspect("counter"); d.State.Status != "exited" || d.State.ExitCode != 0 || d.State.Running {
		t.Fatalf("after stop: %+v", d.State)
	}

	// A PID 1 that ignores SIGTERM waits the whole timeout, then SIGKILL.
	e.okT("run", "-d", "--name", "stubborn", "busybox", "sleep", "1000")
	start = time.Now()
	r = e.runT(time.Minute, "stop", "-t", "1", "stubborn")
	if took := time.Since(start); r.code != 0 || !strings.Contains(r.stderr, "SIGKILL") || took < time.Second || took > 15*time.Second {
		t.Fatalf("stop of a container ignoring SIGTERM: %+v after %v", r, took)
	}
	// kill and wait.
	e.okT("run", "-d", "--name", "victim", "busybox", "sleep", "1000")
	e.okT("kill", "-s", "KILL", "victim")
	if out := e.okT("wait", "victim"); out != "137\n" {
		t.Fatalf("wait printed %q, want 137", out)
	}
	e.fails("is not running", "kill", "victim")
	e.okT("run", "-d", "--name", "three", "busybox", "sh", "-c", "sleep 0.2; exit 3")
	if out := e.okT("wait", "three"); out != "3\n" {
		t.Fatalf("wait printed %q, want 3", out)
	}
	ps := e.okT("ps", "-a")
	for _, want := range []string{"Exited (0)", "Exited (137)", "Exited (3)"} {
		if !strings.Contains(ps, want) {
			t.Errorf("ps -a lacks %q:\n%s", want, ps)
		}
	}
	if running := e.okT("ps", "-q"); running != "" {
		t.Errorf("ps lists stopped containers: %q", running)
	}
	var rows int
	for _, line := range strings.Split(strings.TrimSpace(e.okT("ps", "-a", "--format", "json")), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"State":"exited"`) {
			t.Errorf("ps --format json line %q", line)
		}
		rows++
	}
	if rows != 4 {
		t.Errorf("ps -a --format json: %d rows, want 4", rows)
	}
	// rm refuses a running container without -f.
	e.okT("run", "-d", "--name", "live", "busybox", "sleep", "1000")
	e.fails("container is running", "rm", "live")
	e.fails("already in use", "run", "-d", "--name", "live", "busybox", "true")
	if out := e.runT(time.Minute, "exec", "live", "sh", "-c", "echo in-exec; exit 5"); out.code != 5 || out.stdout != "in-exec\n" {
		t.Fatalf("exec: %+v", out)
	}
	e.okT("rm", "-f", "live", "counter", "stubborn", "victim", "three")
	if out := e.okT("ps", "-aq"); out != "" {
		t.Fatalf("containers left: %q", out)
	}
}

func TestRunMonitorKilled(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.okT("run", "-d", "busybox", "sleep", "1000"))
	pid := e.inspect(id).State.Pid
	mon := int(e.state(id)["MonitorPid"].(float64))
	if pid == 0 || !processAlive(pid) || !processAlive(mon) {
		t.Fatalf("container pid %d, monitor pid %d: not running", pid, mon)
	}
	if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the monitor is gone", func() bool { return !processAlive(mon) })
	ps := e.okT("ps", "-a")
	if !strings.Contains(ps, "Exited (") {
		t.Fatalf("ps after the monitor was killed:\n%s", ps)
	}
	e.okT("rm", "-f", id)
	if m := mountsUnder(e.root); len(m) != 0 {
		t.Fatalf("mounts left after rm -f: %v", m)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), id) {
		t.Fatal("the container's mount is left")
	}
	eventually(t, 10*time.Second, "the container's process is gone", func() bool { return !processAlive(pid) })
	if _, err := os.Stat(filepath.Join(e.root, "containers", id)); !os.IsNotExist(err) {
		t.Fatalf("rm -f left the container directory: %v", err)
	}
}

func TestRunResourceLimits(t *testing.T) {
	e := newContainerEnv(t)
	// The shell holds 200 MB of command output in memory: over 64 MB, the
	// kernel's OOM killer ends it.
	r := e.runT(2*time.Minute, "run", "--name", "hog", "--memory", "64m", "busybox", "sh", "-c",
		`x=$(head -c 200000000 /dev/zero | tr '\0' a); echo ${#x}`)
	if r.code != 137 {
		t.Fatalf("allocating 200 MB under --memory 64m: exit %d, stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := e.inspect("hog"); !d.State.OOMKilled || d.State.ExitCode != 137 {
		t.Fatalf("inspect after OOM: %+v", d.State)
	}
	// Under the limit it runs.
	if out := e.okT("run", "--rm", "--memory", "64m", "busybox", "sh", "-c", `x=$(head -c 10000000 /dev/zero | tr '\0' a); echo ${#x}`); out != "10000000\n" {
		t.Fatalf("10 MB under 64m: %q", out)
	}
	out := e.okT("run", "--rm", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sh", "-c",
		"cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max")
	if f := strings.Fields(out); len(f) < 3 || f[0] != "67108864" || f[1] != "50000" || f[len(f)-1] != "20" {
		t.Fatalf("cgroup limits seen inside: %q", out)
	}
	r = e.runT(time.Minute, "run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait")
	if r.code == 0 || !strings.Contains(r.stderr, "can't fork") {
		t.Fatalf("--pids-limit 5 with 9 processes: %+v", r)
	}
}

// startStrata starts strata in the background (its output collected) and
// returns the command and a channel that yields its exit code.
func (e *cenv) startStrata(out *strings.Builder, args ...string) (*exec.Cmd, <-chan int) {
	e.t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	codes := make(chan int, 1)
	go func() {
		cmd.Wait()
		codes <- cmd.ProcessState.ExitCode()
	}()
	e.t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, codes
}

func waitCode(t *testing.T, codes <-chan int, timeout time.Duration, what string) int {
	t.Helper()
	select {
	case c := <-codes:
		return c
	case <-time.After(timeout):
		t.Fatalf("%s: strata still running after %v", what, timeout)
		return -1
	}
}

func TestRunForegroundSignals(t *testing.T) {
	e := newContainerEnv(t)
	// SIGINT (Ctrl-C) reaches the container's process, which handles it.
	var out strings.Builder
	cmd, codes := e.startStrata(&out, "run", "--rm", "busybox", "sh", "-c", `trap "echo got INT; exit 42" INT; echo ready; while true; do sleep 0.1; done`)
	eventually(t, 30*time.Second, "the container is ready", func() bool { return strings.Contains(out.String(), "ready") })
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitCode(t, codes, 20*time.Second, "after SIGINT"); code != 42 || !strings.Contains(out.String(), "got INT") {
		t.Fatalf("after SIGINT: exit %d, output %q", code, out.String())
	}
	// A PID 1 without a handler ignores it: a second Ctrl-C kills it.
	out.Reset()
	cmd, codes = e.startStrata(&out, "run", "--rm", "busybox", "sleep", "1000")
	eventually(t, 30*time.Second, "the container runs", func() bool { return strings.Contains(e.okT("ps"), "sleep 1000") })
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitCode(t, codes, 20*time.Second, "after two SIGINTs"); code != 137 {
		t.Fatalf("after two SIGINTs: exit %d, output %q", code, out.String())
	}
	if ps := e.okT("ps", "-aq"); ps != "" {
		t.Fatalf("--rm left %q", ps)
	}
}

func TestRunTerminal(t *testing.T) {
	e := newContainerEnv(t)
	// -t without a terminal of strata's own: the container still gets one.
	out := e.okT("run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo $TERM")
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "xterm") {
		t.Fatalf("run -t printed %q", out)
	}
	e.fails("the input device is not a TTY", "run", "--rm", "-it", "busybox", "sh")
	e.okT("run", "-dt", "--name", "tty", "busybox", "sh", "-c", "tty; sleep 1000")
	eventually(t, 20*time.Second, "the detached terminal's output is logged", func() bool {
		return strings.Contains(e.okT("logs", "tty"), "/dev/pts/")
	})
	// exec with input.
	r := e.runIn([]byte("piped\n"), "exec", "-i", "tty", "cat")
	if r.code != 0 || r.stdout != "piped\n" {
		t.Fatalf("exec -i: %+v", r)
	}
	if r := e.runT(time.Minute, "exec", "-u", "app", "-w", "/tmp", "-e", "X=y", "tty", "sh", "-c", "id -u; pwd; echo $X"); r.stdout != "1000\n/tmp\ny\n" {
		t.Fatalf("exec -u -w -e: %+v", r)
	}
	if r := e.runT(time.Minute, "exec", "tty", "no-such-command"); r.code != 127 || !strings.Contains(r.stderr, "Error: ") {
		t.Fatalf("exec of a missing command: %+v", r)
	}
	e.okT("rm", "-f", "tty")
	e.fails("no such container", "exec", "tty", "true")
}
