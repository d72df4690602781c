package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func newTestRuntime(t *testing.T) (*Runtime, string) {
	t.Helper()
	requireRunc(t)
	r, err := New(filepath.Join(t.TempDir(), "containers"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, _ := r.List(context.Background())
		for _, st := range list {
			r.Remove(context.Background(), st, RemoveOptions{Force: true})
		}
	})
	return r, busyboxLayer(t)
}

func TestCreateRunRemove(t *testing.T) {
	r, lower := newTestRuntime(t)
	ctx := context.Background()
	st, err := r.Create(ctx, CreateOptions{
		Name: "first", Image: "busybox", Lowers: []string{lower},
		ImageConfig: v1.Config{Cmd: []string{"sh"}, Env: []string{"FROM_IMAGE=1"}, WorkingDir: "/tmp"},
		Cmd:         []string{"sh", "-c", "echo $FROM_IMAGE $EXTRA $HOSTNAME; pwd; echo oops >&2; touch /made; exit 7"},
		Env:         []string{"EXTRA=2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Created || st.Name != "first" || len(st.ID) != 64 {
		t.Fatalf("created %+v", st)
	}
	if _, err := r.Create(ctx, CreateOptions{Name: "first", Image: "busybox", Lowers: []string{lower}, Cmd: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("a second container named first: %v", err)
	}
	var out, errb bytes.Buffer
	code, err := r.Run(ctx, st, RunOptions{Stdout: &out, Stderr: &errb})
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v (stderr %q)", code, err, errb.String())
	}
	if want := fmt.Sprintf("1 2 %s\n/tmp\n", st.ID[:12]); out.String() != want || errb.String() != "oops\n" {
		t.Errorf("stdout %q (want %q) stderr %q", out.String(), want, errb.String())
	}
	got, err := r.Lookup(ctx, st.ID[:8])
	if err != nil || got.Status != Exited || got.ExitCode != 7 || got.FinishedAt.IsZero() || got.StartedAt.IsZero() {
		t.Fatalf("state after exit: %+v %v", got, err)
	}
	changes, err := r.Changes(ctx, got)
	if err != nil || len(changes) != 1 || changes[0].String() != "A /made" {
		t.Errorf("changes %v %v", changes, err)
	}
	var logs bytes.Buffer
	if err := r.Logs(ctx, got, &logs, &logs, LogsOptions{Tail: -1}); err != nil || !strings.Contains(logs.String(), "oops\n") {
		t.Errorf("logs %q %v", logs.String(), err)
	}
	if err := r.Remove(ctx, got, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Dir(st.ID)); !os.IsNotExist(err) {
		t.Errorf("container directory left: %v", err)
	}
	if _, err := r.Lookup(ctx, "first"); err == nil {
		t.Error("the name outlived the container")
	}
	if _, err := os.Stat(filepath.Join(lower, "made")); err == nil {
		t.Error("the lower layer changed")
	}
}

func TestRunPublishesPorts(t *testing.T) {
	r, lower := newTestRuntime(t)
	ctx := context.Background()
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("proxied"), 0o644)
	ls, ports, err := Listen([]Port{{HostIP: "127.0.0.1", ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	if ports[0].HostPort == 0 || ports[0].Proto != "tcp" {
		t.Fatalf("ports %+v", ports)
	}
	// The port is taken now: a second Listen fails clearly.
	if _, _, err := Listen(ports); err == nil || !strings.Contains(err.Error(), "port is already allocated") {
		t.Fatalf("second Listen: %v", err)
	}
	st, err := r.Create(ctx, CreateOptions{
		Image: "busybox", Lowers: []string{lower}, Ports: ports,
		Cmd:    []string{"httpd", "-f", "-p", "80", "-h", "/www"},
		Mounts: []Mount{{Source: www, Destination: "/www"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, st, RunOptions{Listeners: ls, Started: func(*State) { close(started) }})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the container did not start")
	}
	client := http.Client{Timeout: 5 * time.Second}
	var body string
	for i := 0; i < 100; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", ports[0].HostPort))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "proxied" {
		t.Fatalf("GET through the proxy: %q", body)
	}
	cur, err := r.Lookup(ctx, st.ID)
	if err != nil || !cur.Running() {
		t.Fatalf("state while running: %+v %v", cur, err)
	}
	if err := r.Kill(ctx, cur, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after SIGKILL")
	}
	cur, _ = r.Lookup(ctx, st.ID)
	if cur.Status != Exited || cur.ExitCode != 137 {
		t.Errorf("after kill: %s %d", cur.Status, cur.ExitCode)
	}
	// The host port is free again.
	ls2, _, err := Listen(ports)
	if err != nil {
		t.Fatalf("the port is still held: %v", err)
	}
	closeAll(ls2)
}

func TestRunStartError(t *testing.T) {
	r, lower := newTestRuntime(t)
	ctx := context.Background()
	st, err := r.Create(ctx, CreateOptions{Image: "busybox", Lowers: []string{lower}, Cmd: []string{"/no/such/binary"}})
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	code, err := r.Run(ctx, st, RunOptions{Stdout: io.Discard, Stderr: &errb})
	serr, ok := err.(*StartError)
	if !ok || code != 127 || !strings.Contains(serr.Msg, "/no/such/binary") {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if errb.Len() != 0 {
		t.Errorf("runc's own error reached the container's stderr: %q", errb.String())
	}
	cur, _ := r.Lookup(ctx, st.ID)
	if cur.Status != Created || cur.ExitCode != 127 || cur.Error == "" {
		t.Errorf("state after a failed start: %+v", cur)
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(m), st.ID) {
		t.Error("the root filesystem is still mounted")
	}
}

// A container recorded as running whose monitor is gone (killed, or the
// machine rebooted and the PID now names another process) is exited.
func TestReconcileAfterReboot(t *testing.T) {
	r, err := New(filepath.Join(t.TempDir(), "containers"), WithStateRoot(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("b", 64)
	if err := os.MkdirAll(filepath.Join(r.Dir(id), "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{ID: id, Name: "old", Status: Running, Pid: os.Getpid(), PidStart: 1,
		MonitorPid: os.Getpid(), MonitorStart: procStart(os.Getpid()) + 1, StartedAt: time.Now()}
	if err := saveState(r.Dir(id), st); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if got := list[0]; got.Status != Exited || got.ExitCode != 137 || got.FinishedAt.IsZero() {
		t.Fatalf("after a reboot: %+v", got)
	}
	// We are still here: reconciling killed no unrelated process.
	if err := r.Remove(context.Background(), list[0], RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}
