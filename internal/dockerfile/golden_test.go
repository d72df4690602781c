package dockerfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// hostPlatformToken in a golden Dockerfile stands for this machine's
// platform, so that the goldens pass on amd64 and arm64 alike.
const hostPlatformToken = "@HOSTPLATFORM@"

func hostPlatformString() string { return "linux/" + runtime.GOARCH }

// TestGolden parses every testdata/golden/NAME.Dockerfile and compares its
// rendering (or its error) byte for byte with NAME.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d golden Dockerfiles; want at least 30", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			src = bytes.ReplaceAll(src, []byte(hostPlatformToken), []byte(hostPlatformString()))
			got := renderParse("Dockerfile", src)
			got = strings.ReplaceAll(got, hostPlatformString(), hostPlatformToken)

			goldenPath := strings.TrimSuffix(file, ".Dockerfile") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/dockerfile -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: rendering differs from %s\n--- got\n%s--- want\n%s", file, goldenPath, got, want)
			}
		})
	}
}

// TestGoldenErrorsAreErrors checks that a golden recording an error records
// an *Error with a line, except for the whole-file errors that have none.
func TestGoldenErrorsAreErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	noLine := map[string]bool{"err_empty": true, "err_only_comments": true, "err_no_from": true}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".Dockerfile")
		if !strings.HasPrefix(name, "err_") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse("Dockerfile", src)
			if err == nil {
				t.Fatal("parsed; an err_ golden must fail")
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %q is not a *dockerfile.Error", err, err)
			}
			if de.File != "Dockerfile" {
				t.Errorf("File = %q, want Dockerfile", de.File)
			}
			if noLine[name] != (de.Line == 0) {
				t.Errorf("Line = %d in %q (whole-file error: %v)", de.Line, err, noLine[name])
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
		})
	}
}

// renderParse renders the result of parsing src: the Dockerfile, or its error.
func renderParse(name string, src []byte) string {
	df, err := Parse(name, src)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return render(df)
}

// render prints df deterministically, one fact a line.
func render(df *Dockerfile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "escape %q\n", df.EscapeToken)
	for _, w := range df.Warnings {
		fmt.Fprintf(&b, "warning %q\n", w)
	}
	for _, a := range df.MetaArgs {
		fmt.Fprintf(&b, "meta-arg line=%d", Line(&a))
		renderArgs(&b, a.Args)
		b.WriteString("\n")
	}
	for _, st := range df.Stages {
		line := 0
		if len(st.Location) > 0 {
			line = st.Location[0].Start.Line
		}
		fmt.Fprintf(&b, "stage %d line=%d name=%q base=%q platform=%q\n", st.Index, line, st.Name, st.BaseName, st.Platform)
		for _, cmd := range st.Commands {
			fmt.Fprintf(&b, "  %d %s", Line(cmd), strings.ToUpper(cmd.Name()))
			renderCommand(&b, cmd)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func renderArgs(b *strings.Builder, args []instructions.KeyValuePairOptional) {
	for _, kv := range args {
		if kv.Value == nil {
			fmt.Fprintf(b, " %q", kv.Key)
		} else {
			fmt.Fprintf(b, " %q=%q", kv.Key, *kv.Value)
		}
	}
}

func renderPairs(b *strings.Builder, kvs instructions.KeyValuePairs) {
	for _, kv := range kvs {
		fmt.Fprintf(b, " %q=%q", kv.Key, kv.Value)
		if kv.NoDelim {
			b.WriteString("(nodelim)")
		}
	}
}

func renderCmdLine(b *strings.Builder, c instructions.ShellDependantCmdLine) {
	if c.PrependShell {
		b.WriteString(" shell")
	} else {
		b.WriteString(" exec")
	}
	fmt.Fprintf(b, " %s", quoteList(c.CmdLine))
	for _, f := range c.Files {
		fmt.Fprintf(b, "\n      heredoc name=%q chomp=%v data=%q", f.Name, f.Chomp, f.Data)
	}
}

func renderSources(b *strings.Builder, s instructions.SourcesAndDest) {
	fmt.Fprintf(b, " src=%s dest=%q", quoteList(s.SourcePaths), s.DestPath)
	for _, c := range s.SourceContents {
		fmt.Fprintf(b, "\n      heredoc path=%q expand=%v data=%q", c.Path, c.Expand, c.Data)
	}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func flagStr(name, v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(" %s=%q", name, v)
}

func flagBool(name string, v bool) string {
	if !v {
		return ""
	}
	return " " + name
}

func renderCommand(b *strings.Builder, cmd instructions.Command) {
	switch c := cmd.(type) {
	case *instructions.WorkdirCommand:
		fmt.Fprintf(b, " %q", c.Path)
	case *instructions.CopyCommand:
		b.WriteString(flagStr("from", c.From) + flagStr("chown", c.Chown) + flagStr("chmod", c.Chmod) + flagBool("link", c.Link))
		renderSources(b, c.SourcesAndDest)
	case *instructions.AddCommand:
		b.WriteString(flagStr("chown", c.Chown) + flagStr("chmod", c.Chmod) + flagBool("link", c.Link) + flagStr("checksum", c.Checksum))
		if c.Unpack != nil {
			fmt.Fprintf(b, " unpack=%v", *c.Unpack)
		}
		renderSources(b, c.SourcesAndDest)
	case *instructions.RunCommand:
		if n := instructions.GetNetwork(c); n != instructions.NetworkDefault {
			fmt.Fprintf(b, " network=%s", n)
		}
		used := append([]string(nil), c.FlagsUsed...)
		sort.Strings(used)
		if len(used) > 0 {
			fmt.Fprintf(b, " flags=%s", strings.Join(used, ","))
		}
		renderCmdLine(b, c.ShellDependantCmdLine)
		for _, m := range instructions.GetMounts(c) {
			fmt.Fprintf(b, "\n      mount type=%s target=%q", m.Type, m.Target)
			b.WriteString(flagStr("id", m.CacheID) + flagStr("sharing", string(m.CacheSharing)) + flagStr("from", m.From) + flagStr("source", m.Source))
			fmt.Fprintf(b, " readonly=%v", m.ReadOnly)
			if m.SizeLimit != 0 {
				fmt.Fprintf(b, " size=%d", m.SizeLimit)
			}
			if m.Mode != nil {
				fmt.Fprintf(b, " mode=%#o", *m.Mode)
			}
			if m.UID != nil {
				fmt.Fprintf(b, " uid=%d", *m.UID)
			}
			if m.GID != nil {
				fmt.Fprintf(b, " gid=%d", *m.GID)
			}
		}
	case *instructions.CmdCommand:
		renderCmdLine(b, c.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		renderCmdLine(b, c.ShellDependantCmdLine)
	case *instructions.EnvCommand:
		renderPairs(b, c.Env)
	case *instructions.LabelCommand:
		renderPairs(b, c.Labels)
	case *instructions.ArgCommand:
		renderArgs(b, c.Args)
	case *instructions.ExposeCommand:
		fmt.Fprintf(b, " %s", quoteList(c.Ports))
	case *instructions.UserCommand:
		fmt.Fprintf(b, " %q", c.User)
	case *instructions.VolumeCommand:
		fmt.Fprintf(b, " %s", quoteList(c.Volumes))
	case *instructions.StopSignalCommand:
		fmt.Fprintf(b, " %q", c.Signal)
	case *instructions.ShellCommand:
		fmt.Fprintf(b, " %s", quoteList(c.Shell))
	case *instructions.OnbuildCommand:
		fmt.Fprintf(b, " %q", c.Expression)
	case *instructions.MaintainerCommand:
		fmt.Fprintf(b, " %q", c.Maintainer)
	case *instructions.HealthCheckCommand:
		h := c.Health
		fmt.Fprintf(b, " test=%s", quoteList(h.Test))
		if h.Interval != 0 {
			fmt.Fprintf(b, " interval=%s", h.Interval)
		}
		if h.Timeout != 0 {
			fmt.Fprintf(b, " timeout=%s", h.Timeout)
		}
		if h.StartPeriod != 0 {
			fmt.Fprintf(b, " start-period=%s", h.StartPeriod)
		}
		if h.StartInterval != 0 {
			fmt.Fprintf(b, " start-interval=%s", h.StartInterval)
		}
		if h.Retries != 0 {
			fmt.Fprintf(b, " retries=%d", h.Retries)
		}
	default:
		fmt.Fprintf(b, " unrendered %T", cmd)
	}
}
