package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it refuses it
// refuses with an *Error of one line, with no stack trace.
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
	f.Fuzz(func(t *testing.T, src []byte) {
		df, err := Parse("Dockerfile", src)
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
