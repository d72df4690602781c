package content_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/content/contenttest"
)

func TestMemory(t *testing.T) {
	contenttest.Run(t, contenttest.Harness{
		New: func(t *testing.T) content.Store { return content.NewMemory() },
		Corrupt: func(t *testing.T, s content.Store, d v1.Hash, b []byte) {
			s.(*content.Memory).Corrupt(d, b)
		},
	})
}

func TestDisk(t *testing.T) {
	contenttest.Run(t, contenttest.Harness{
		New: func(t *testing.T) content.Store {
			s, err := content.NewDisk(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Corrupt: func(t *testing.T, s content.Store, d v1.Hash, b []byte) {
			if err := os.WriteFile(s.(*content.Disk).Path(d), b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestDiskWriterKilled kills a process in the middle of writing a blob and
// checks that nothing partial became visible.
func TestDiskWriterKilled(t *testing.T) {
	if os.Getenv("STRATA_TEST_WRITER") != "" {
		s, err := content.NewDisk(os.Getenv("STRATA_TEST_WRITER"))
		if err != nil {
			os.Exit(2)
		}
		w, err := s.Writer(t.Context())
		if err != nil {
			os.Exit(2)
		}
		buf := make([]byte, 1<<16)
		os.Stdout.WriteString("writing\n")
		for {
			w.Write(buf) // until killed
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskWriterKilled$")
	cmd.Env = append(os.Environ(), "STRATA_TEST_WRITER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 8)
	if _, err := out.Read(line); err != nil || !strings.HasPrefix(string(line), "writing") {
		t.Fatalf("writer did not start: %v %q", err, line)
	}
	// Wait until bytes have reached the ingest file, then kill -9.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		entries, _ := os.ReadDir(filepath.Join(dir, "ingest"))
		if len(entries) == 1 {
			if fi, err := entries[0].Info(); err == nil && fi.Size() > 1<<20 {
				break
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()

	s, err := content.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	s.Walk(t.Context(), func(content.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("a killed writer left %d visible blobs", n)
	}
	// The store still takes writes.
	if _, err := content.PutBytes(t.Context(), s, []byte("after")); err != nil {
		t.Fatal(err)
	}
}
