package build

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-ml/strata/internal/buildctx"
	"github.com/strata-ml/strata/internal/dockerfile"
)

// Advice is a warning about a Dockerfile trap, with its fix.
type Advice struct {
	File    string
	Line    int
	Message string
	Fix     string
}

func (a Advice) String() string {
	return fmt.Sprintf("%s:%d: %s\n  fix: %s", a.File, a.Line, a.Message, a.Fix)
}

// installRun matches RUN steps that install dependencies.
var installRun = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b(pip3?|python3? -m pip|poetry|pipenv|conda|mamba|npm|yarn|pnpm|bundle|composer|cargo|go mod download|apt-get|apk|dnf|yum)\b.*\b(install|sync|ci|download|fetch|add)\b|\bgo mod download\b`)
})

// junk are ignored paths nobody expects in an image.
var junk = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(^|/)(__pycache__|\.git|\.venv|venv|node_modules|\.mypy_cache|\.pytest_cache|\.idea|\.vscode)(/|$)|\.py[co]$|(^|/)\.DS_Store$|(^|/)\.dockerignore$`)
})

// Advise looks for the traps the Docker tutorials fall into: the whole
// context copied before dependencies are installed (every code change
// reinstalls them), COPY sources that .dockerignore removes entirely, and
// files a whole-context COPY silently leaves out.
func Advise(df *dockerfile.Dockerfile, c *buildctx.Context, ignoreFile string) []Advice {
	var out []Advice
	for _, st := range df.Stages {
		var wholeCopy *instructions.CopyCommand
		wholeLine := 0
		for _, cmd := range st.Commands {
			line := dockerfile.Line(cmd)
			switch x := cmd.(type) {
			case *instructions.CopyCommand:
				if x.From != "" {
					continue
				}
				if copiesWholeContext(x.SourcePaths) && wholeCopy == nil {
					wholeCopy, wholeLine = x, line
					out = append(out, leftOut(df.Name, line, c, ignoreFile)...)
				}
				if a, ok := allExcluded(df.Name, line, x.SourcePaths, c, ignoreFile); ok {
					out = append(out, a)
				}
			case *instructions.RunCommand:
				cmdline := strings.Join(x.CmdLine, " ")
				if wholeCopy != nil && installRun().MatchString(cmdline) {
					out = append(out, Advice{
						File: df.Name, Line: wholeLine,
						Message: fmt.Sprintf("%s copies the whole context before %q (line %d): every code change reinstalls the dependencies", oneLine(wholeCopy), truncateWords(cmdline, 60), line),
						Fix:     fmt.Sprintf("copy only the dependency files first, install, then copy the rest: e.g. COPY %s . / RUN %s / %s", depFile(cmdline), truncateWords(cmdline, 60), oneLine(wholeCopy)),
					})
					wholeCopy = nil
				}
			}
		}
	}
	return out
}

func copiesWholeContext(srcs []string) bool {
	for _, s := range srcs {
		if c := path.Clean("/" + s); c == "/" {
			return true
		}
	}
	return false
}

// allExcluded reports a COPY whose every source .dockerignore removes.
func allExcluded(file string, line int, srcs []string, c *buildctx.Context, ignoreFile string) (Advice, bool) {
	if c == nil || c.Dir == "" || len(srcs) == 0 {
		return Advice{}, false
	}
	for _, s := range srcs {
		if _, err := c.Match(s); err == nil || !strings.Contains(err.Error(), "excluded by .dockerignore") {
			return Advice{}, false
		}
	}
	return Advice{
		File: file, Line: line,
		Message: fmt.Sprintf("COPY %s: every source is excluded by %s, so the build fails here", strings.Join(srcs, " "), base(ignoreFile)),
		Fix:     fmt.Sprintf("remove the pattern that matches it from %s, or add an exception such as !%s", base(ignoreFile), srcs[0]),
	}, true
}

// leftOut reports files a whole-context COPY leaves out that look like
// they matter (a model, data), as the tutorial's *.pkl rule does to its
// own model.pkl.
func leftOut(file string, line int, c *buildctx.Context, ignoreFile string) []Advice {
	if c == nil || c.Dir == "" {
		return nil
	}
	var missing []string
	for _, p := range c.Ignored {
		if !junk().MatchString(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	shown := missing
	if len(shown) > 3 {
		shown = append(shown[:3:3], fmt.Sprintf("and %d more", len(missing)-3))
	}
	return []Advice{{
		File: file, Line: line,
		Message: fmt.Sprintf("COPY of the whole context leaves out what %s excludes: %s; if the app reads them at run time it will fail (FileNotFoundError)", base(ignoreFile), strings.Join(shown, ", ")),
		Fix:     fmt.Sprintf("add exceptions to %s (e.g. !%s), or copy them explicitly", base(ignoreFile), missing[0]),
	}}
}

func depFile(cmdline string) string {
	switch {
	case strings.Contains(cmdline, "requirements"):
		for _, f := range strings.Fields(cmdline) {
			if strings.Contains(f, "requirements") {
				return f
			}
		}
	case strings.Contains(cmdline, "npm") || strings.Contains(cmdline, "yarn"):
		return "package.json package-lock.json"
	case strings.Contains(cmdline, "poetry"):
		return "pyproject.toml poetry.lock"
	case strings.Contains(cmdline, "go mod"):
		return "go.mod go.sum"
	}
	return "<dependency files>"
}

func base(p string) string {
	if p == "" {
		return ".dockerignore"
	}
	return path.Base(p)
}

func truncateWords(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
