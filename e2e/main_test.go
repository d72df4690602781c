// Package e2e runs the strata binary as users do, against real peers
// (podman, skopeo) where a test needs them.
package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var strataBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", strataBin, "../cmd/strata")
	// Static, as the README installs it: no dynamic loader at each start.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build strata:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool skips a test whose peer is not installed, unless the run
// demands every peer (STRATA_E2E_REQUIRE=1, as scripts/test.sh sets).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("STRATA_E2E_REQUIRE") == "1" {
			t.Fatalf("%s is not installed (scripts/test.sh installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// env is one isolated strata store.
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	return &env{t: t, root: filepath.Join(t.TempDir(), "store")}
}

type result struct {
	stdout, stderr string
	code           int
}

// runIn runs strata with args and stdin, within five minutes.
func (e *env) runIn(stdin []byte, args ...string) result {
	e.t.Helper()
	return e.runLimited(stdin, 5*time.Minute, args...)
}

// runLimited runs strata with a time limit, killing it (and failing the
// test) when it is exceeded, and fails the test on a crash.
func (e *env) runLimited(stdin []byte, timeout time.Duration, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, args...)
	cmd.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("strata %s: still running after %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run strata %v: %v", args, err)
	}
	if strings.Contains(errb.String(), "goroutine ") || strings.Contains(errb.String(), "panic:") {
		e.t.Fatalf("strata %v crashed:\n%s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runIn(nil, args...)
}

// ok runs strata and fails the test unless it succeeds; it returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("strata %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs strata, expects a non-zero exit and an error mentioning want.
func (e *env) fails(want string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code == 0 {
		e.t.Fatalf("strata %s succeeded, want an error containing %q\nstdout: %s", strings.Join(args, " "), want, r.stdout)
	}
	// Progress may come first; the error is one line starting "Error: ".
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "Error: ") && strings.Contains(line, want) {
			return r
		}
	}
	e.t.Fatalf("strata %s: stderr %q, want a line \"Error: ...%s...\"", strings.Join(args, " "), r.stderr, want)
	return r
}

// busyboxTar writes a root filesystem tarball holding the static busybox
// and a few applet links, and returns its path.
func busyboxTar(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if os.Getenv("STRATA_E2E_REQUIRE") == "1" {
			t.Fatal("busybox-static is not installed (scripts/test.sh installs it)")
		}
		t.Skip("no /bin/busybox")
	}
	entries := []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/busybox", typ: tar.TypeReg, mode: 0o755, body: bb},
		{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/passwd", typ: tar.TypeReg, mode: 0o644, body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
	for _, a := range []string{"sh", "ls", "cat", "echo", "httpd", "true"} {
		entries = append(entries, tarEntry{name: "./bin/" + a, typ: tar.TypeSymlink, link: "busybox", mode: 0o777})
	}
	p := filepath.Join(t.TempDir(), "busybox-rootfs.tar")
	if err := os.WriteFile(p, makeTar(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type tarEntry struct {
	name string
	typ  byte
	mode int64
	link string
	body []byte
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot records the store's files and their sizes, to prove a failed
// command changed nothing.
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	files := map[string]string{}
	filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".lock") {
			return nil
		}
		b, _ := os.ReadFile(p)
		files[strings.TrimPrefix(p, e.root)] = string(b)
		return nil
	})
	return files
}

func (e *env) assertUnchanged(before map[string]string) {
	e.t.Helper()
	after := e.snapshot()
	for p := range after {
		if _, ok := before[p]; !ok {
			e.t.Errorf("store gained %s", p)
		}
	}
	for p, b := range before {
		if after[p] != b {
			e.t.Errorf("store changed or lost %s", p)
		}
	}
}

// waitFlushed waits until the layers that what (a run, a build) unpacked
// are on disk: the background strata flush-snapshots clears their pending
// marks once its syncfs is done. (A kernel with no boot ID gets no marks:
// the unpack syncs instead.)
func waitFlushed(t *testing.T, root, what string) {
	t.Helper()
	pending := filepath.Join(root, "snapshots", "pending")
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		marks, err := os.ReadDir(pending)
		if err != nil {
			t.Fatal(err)
		}
		if len(marks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 minutes after %s, %s still holds %d marks", what, pending, len(marks))
		}
	}
}
