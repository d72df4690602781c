package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/buildctx"
	"github.com/strata-ml/strata/internal/dockerfile"
)

func adviceFor(t *testing.T, df string, files map[string]string, ignore []string) []Advice {
	t.Helper()
	dir := t.TempDir()
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(b), 0o644)
	}
	c, err := buildctx.Walk(dir, ignore)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := dockerfile.Parse("Dockerfile", []byte(df))
	if err != nil {
		t.Fatal(err)
	}
	return Advise(parsed, c, filepath.Join(dir, ".dockerignore"))
}

func TestAdviceTheArticlesTraps(t *testing.T) {
	article := "FROM python:3.10\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nEXPOSE 5000\nCMD [\"python\", \"app.py\"]\n"
	got := adviceFor(t, article, map[string]string{"app.py": "", "requirements.txt": "", "model.pkl": "", "__pycache__/x.pyc": ""}, []string{"__pycache__/", "*.pyc", "*.pkl"})
	var text []string
	for _, a := range got {
		text = append(text, a.String())
	}
	all := strings.Join(text, "\n")
	if len(got) != 2 || !strings.Contains(all, "Dockerfile:3:") || !strings.Contains(all, "every code change reinstalls the dependencies") ||
		!strings.Contains(all, "COPY requirements.txt .") || !strings.Contains(all, "model.pkl") || strings.Contains(all, "x.pyc") {
		t.Fatalf("advice on the article's Dockerfile:\n%s", all)
	}
}

func TestAdviceQuietOnAGoodDockerfile(t *testing.T) {
	good := "FROM python:3.10\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"
	if got := adviceFor(t, good, map[string]string{"app.py": "", "requirements.txt": ""}, nil); len(got) != 0 {
		t.Fatalf("advice on a cache-friendly Dockerfile: %v", got)
	}
}

func TestAdviceAllSourcesExcluded(t *testing.T) {
	got := adviceFor(t, "FROM scratch\nCOPY model.pkl /\n", map[string]string{"model.pkl": ""}, []string{"*.pkl"})
	if len(got) != 1 || got[0].Line != 2 || !strings.Contains(got[0].Message, "every source is excluded") || !strings.Contains(got[0].Fix, "!model.pkl") {
		t.Fatalf("advice: %v", got)
	}
}

func TestWithParentsSortsAndAddsDirs(t *testing.T) {
	got := withParents([]entry{{path: "app/b.py"}, {path: "app/sub/c.py"}, {path: "app/a.py"}})
	var paths []string
	for _, e := range got {
		paths = append(paths, e.path)
	}
	if strings.Join(paths, " ") != "app app/a.py app/b.py app/sub app/sub/c.py" {
		t.Fatalf("entries %v", paths)
	}
}

func TestExposedPorts(t *testing.T) {
	got, err := exposedPorts([]string{"5000", "53/udp", "8000-8002/tcp"})
	if err != nil || strings.Join(got, " ") != "5000/tcp 53/udp 8000/tcp 8001/tcp 8002/tcp" {
		t.Fatalf("exposedPorts = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "70000", "80/xyz", "9-3"} {
		if _, err := exposedPorts([]string{bad}); err == nil {
			t.Errorf("exposedPorts(%q) accepted", bad)
		}
	}
}
