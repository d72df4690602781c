package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func stepDirs(t *testing.T) (upper, work string) {
	dir := t.TempDir()
	upper, work = filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	os.Mkdir(upper, 0o755)
	os.Mkdir(work, 0o755)
	return upper, work
}

func TestRunStep(t *testing.T) {
	requireRunc(t)
	lower := busyboxLayer(t)
	upper, work := stepDirs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code, err := RunStep(ctx, StepSpec{
		Lowers: []string{lower}, Upper: upper, Work: work,
		Args:   []string{"sh", "-c", "echo hi; echo oops >&2; echo made > /made; cat /etc/hostname >/dev/null; exit 3"},
		Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatalf("RunStep: %v (stderr %q)", err, errb.String())
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if out.String() != "hi\n" || errb.String() != "oops\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	// The upper directory holds the change and nothing strata mounted.
	ents, _ := os.ReadDir(upper)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "made" {
		t.Errorf("upper holds %v, want only made", names)
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "made")); b != nil {
		t.Error("the lower layer changed")
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "strata-step-") {
		t.Error("a step's mount is left")
	}
}

func TestRunStepUser(t *testing.T) {
	requireRunc(t)
	lower := busyboxLayer(t)
	upper, work := stepDirs(t)
	var out bytes.Buffer
	code, err := RunStep(context.Background(), StepSpec{
		Lowers: []string{lower}, Upper: upper, Work: work,
		Args: []string{"sh", "-c", "id -u; id -G; echo $HOME; pwd"}, User: "app", WorkDir: "/tmp",
		Stdout: &out, Stderr: &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("RunStep: %d %v: %s", code, err, out.String())
	}
	if want := "1000\n1000 2000\n/home/app\n/tmp\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestRunStepNotFound(t *testing.T) {
	requireRunc(t)
	lower := busyboxLayer(t)
	upper, work := stepDirs(t)
	code, err := RunStep(context.Background(), StepSpec{
		Lowers: []string{lower}, Upper: upper, Work: work, Args: []string{"nope"},
	})
	if err == nil || code != 127 || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("RunStep(nope) = %d, %v; want 127 and an error naming nope", code, err)
	}
}

func TestRunStepCancel(t *testing.T) {
	requireRunc(t)
	lower := busyboxLayer(t)
	upper, work := stepDirs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := RunStep(ctx, StepSpec{Lowers: []string{lower}, Upper: upper, Work: work, Args: []string{"sleep", "60"}})
	if err == nil || time.Since(start) > 20*time.Second {
		t.Fatalf("cancelled step: %v after %v", err, time.Since(start))
	}
}
