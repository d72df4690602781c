package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseErrorLines covers errors whose Dockerfiles are too big or too
// odd for a golden file.
func TestParseErrorLines(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"long line first", "RUN " + long + "\n", 1, "line longer than 65535 bytes"},
		{"long line third", "FROM a\nRUN b\nRUN " + long + "\n", 3, "line longer than 65535 bytes"},
		{"long continued line", "FROM a\nRUN b \\\n" + long + "\n", 3, "line longer than 65535 bytes"},
		{"bad escape after syntax", "# syntax=docker/dockerfile:1\n# escape=q\nFROM a\n", 2, "invalid escape token 'q'"},
		{"bom only", "\xef\xbb\xbf", 0, "no instructions"},
		{"continuation only", "\\\n", 1, "ends in a line continuation"},
		{"meta arg then RUN", "ARG A=1\nRUN echo\nFROM a\n", 2, "RUN before the first FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tt.src))
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if de.Line != tt.line || !strings.Contains(de.Err.Error(), tt.msg) {
				t.Errorf("err = %q (line %d), want line %d and %q", err, de.Line, tt.line, tt.msg)
			}
		})
	}
}

// TestParseLongestLine checks that the longest line BuildKit reads parses,
// so that Parse's own limit is not stricter than BuildKit's.
func TestParseLongestLine(t *testing.T) {
	run := "RUN " + strings.Repeat("x", maxLine-len("RUN "))
	tests := []struct{ name, src string }{
		{"newline", "FROM a\n" + run + "\n"},
		{"crlf", "FROM a\r\n" + run[:len(run)-1] + "\r\n"},
		{"at EOF", "FROM a\n" + run},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := Parse("Dockerfile", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(df.Stages[0].Commands); n != 1 {
				t.Fatalf("%d commands, want 1", n)
			}
		})
	}
}

func TestStageByName(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("FROM a AS Build\nFROM b AS test\nFROM c\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		index int // -1: not found
	}{
		{"build", 0}, {"BUILD", 0}, {"test", 1}, {"0", 0}, {"2", 2}, {"3", -1}, {"c", -1}, {"", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ok := df.StageByName(tt.name)
			if tt.index < 0 {
				if ok {
					t.Errorf("found stage %d, want none", st.Index)
				}
				return
			}
			if !ok || st.Index != tt.index {
				t.Errorf("got %v %v, want stage %d", st, ok, tt.index)
			}
		})
	}
}

// TestParseIsSilent checks that Parse writes nothing to stdout or stderr
// (BuildKit's shell lexer prints to stderr on bytes that are not UTF-8).
func TestParseIsSilent(t *testing.T) {
	srcs := map[string]string{
		"heredoc latin1": "FROM a\nRUN <<\xff\nx\n\xff\n",
		"env latin1":     "FROM a\nENV A=\xe9\n",
		"copy heredoc":   "FROM a\nCOPY <<E\xe9 /x\nE\xe9\n",
		"heredoc NUL":    "FROM a\nRUN \x00 <<0\n0\n",
		"env NUL":        "FROM a\nENV A=\"\x00\"\n",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[filepath.Base(f)] = string(b)
	}
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = out, out
	for _, src := range srcs {
		Parse("Dockerfile", []byte(src))
	}
	os.Stdout, os.Stderr = stdout, stderr
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 {
		t.Errorf("Parse wrote %q", b)
	}
}
