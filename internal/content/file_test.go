package content

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 100_000} {
		p := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte{'x'}, size)
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
	// Errors are os's: a missing file is fs.ErrNotExist, naming the path.
	_, err := ReadFile(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || !bytes.Contains([]byte(err.Error()), []byte("missing")) {
		t.Fatalf("missing file: %v", err)
	}
	// /proc files report size 0 and are read all the same.
	if b, err := ReadFile("/proc/self/status"); err == nil && !bytes.Contains(b, []byte("Name:")) {
		t.Fatalf("/proc/self/status: %q", b)
	}
}
