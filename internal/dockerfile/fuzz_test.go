package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics nor prints, and that whatever it
// refuses it refuses with an *Error of one line, with no stack trace.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.Dockerfile"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	// Parse must not print: what BuildKit writes to stderr lands here.
	out, err := os.Create(filepath.Join(f.TempDir(), "stderr"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		stderr := os.Stderr
		os.Stderr = out
		df, err := Parse("Dockerfile", src)
		os.Stderr = stderr
		if fi, err := out.Stat(); err != nil || fi.Size() > 0 {
			b, _ := os.ReadFile(out.Name())
			out.Truncate(0)
			out.Seek(0, 0)
			t.Fatalf("Parse wrote to stderr: %q (%v)", b, err)
		}
		if err != nil {
			if df != nil {
				t.Errorf("Parse returned a Dockerfile with error %q", err)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %q is not a *dockerfile.Error", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "Dockerfile:") {
				t.Errorf("error %q does not start with the file name", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q has several lines or a stack trace", msg)
			}
			if strings.Contains(msg, "parser failed") {
				t.Errorf("BuildKit panicked, and Parse recovered: %q", msg)
			}
			return
		}
		if len(df.Stages) == 0 {
			t.Fatal("Parse succeeded with no stages")
		}
		// The renderer reads every typed field; it must not panic either.
		_ = render(df)
	})
}
