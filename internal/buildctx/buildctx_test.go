package buildctx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tree(t *testing.T, files ...string) string {
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func paths(c *Context) string {
	var out []string
	for _, f := range c.Files {
		out = append(out, f.Path)
	}
	return strings.Join(out, " ")
}

func TestWalkIgnoreRules(t *testing.T) {
	dir := tree(t, "app.py", "model.pkl", "__pycache__/a.pyc", "docs/a.md", "docs/keep.md", "deep/x/y.tmp", "deep/x/z.py")
	c, err := Walk(dir, []string{"*.pkl", "__pycache__/", "docs/", "!docs/keep.md", "**/*.tmp"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(c), "app.py deep deep/x deep/x/z.py docs/keep.md"; got != want {
		t.Fatalf("files %q, want %q", got, want)
	}
	if _, err := c.Match("model.pkl"); err == nil || !strings.Contains(err.Error(), "excluded by .dockerignore") {
		t.Fatalf("Match of an ignored file: %v", err)
	}
	if _, err := c.Match("nope.py"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("Match of a missing file: %v", err)
	}
	if _, err := c.Match("../etc/passwd"); err == nil || !strings.Contains(err.Error(), "outside the build context") {
		t.Fatalf("Match outside the context: %v", err)
	}
	if m, err := c.Match("*.py"); err != nil || strings.Join(m, " ") != "app.py" {
		t.Fatalf("glob: %v %v", m, err)
	}
}

func TestDigestIsContentNotTime(t *testing.T) {
	dir := tree(t, "a.txt")
	c1, _ := Walk(dir, nil)
	d1, _ := c1.Files[0].Digest()
	os.Chtimes(filepath.Join(dir, "a.txt"), c1.Files[0].ModTime().AddDate(1, 0, 0), c1.Files[0].ModTime().AddDate(1, 0, 0))
	c2, _ := Walk(dir, nil)
	d2, _ := c2.Files[0].Digest()
	if d1 != d2 || d1 == "" {
		t.Fatalf("digests %q %q", d1, d2)
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed"), 0o644)
	c3, _ := Walk(dir, nil)
	if d3, _ := c3.Files[0].Digest(); d3 == d1 {
		t.Fatal("a content change kept the digest")
	}
}

func TestReadIgnorePrefersDockerfileSpecific(t *testing.T) {
	dir := tree(t, ".dockerignore", "build/Dockerfile", "build/Dockerfile.dockerignore")
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "build/Dockerfile.dockerignore"), []byte("b\n# comment\n"), 0o644)
	p, from, err := ReadIgnore(dir, filepath.Join(dir, "build/Dockerfile"))
	if err != nil || strings.Join(p, ",") != "b" || !strings.HasSuffix(from, "Dockerfile.dockerignore") {
		t.Fatalf("ReadIgnore = %v %q %v", p, from, err)
	}
	p, _, _ = ReadIgnore(dir, filepath.Join(dir, "Dockerfile"))
	if strings.Join(p, ",") != "a" {
		t.Fatalf("ReadIgnore without a specific file = %v", p)
	}
}

func TestDigestsInParallelMatchOneByOne(t *testing.T) {
	var names []string
	for i := 0; i < 200; i++ {
		names = append(names, filepath.Join("d", strings.Repeat("x", i%7+1), "f"+string(rune('a'+i%26))+strings.Repeat("y", i)))
	}
	dir := tree(t, names...)
	c, err := Walk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Digests(c.Files); err != nil {
		t.Fatal(err)
	}
	again, _ := Walk(dir, nil)
	for i, f := range c.Files {
		got, _ := f.Digest()
		want, _ := again.Files[i].Digest()
		if got != want {
			t.Fatalf("%s: parallel digest %q, one by one %q", f.Path, got, want)
		}
	}
}

// Reading a file through Open to its end gives Digest its answer: the file
// is not read again (here it is gone by then), and the digest is the one a
// fresh read makes.
func TestOpenDigestsOnTheWay(t *testing.T) {
	dir := tree(t, "model.bin", "other.bin")
	c, err := Walk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := c.Lookup("model.bin")
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	os.Remove(filepath.Join(dir, "model.bin"))
	got, err := f.Digest()
	if err != nil {
		t.Fatalf("Digest read the file again: %v", err)
	}
	sum := sha256.Sum256([]byte("model.bin"))
	if want := "sha256:" + hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}

	// A large file is hashed on another goroutine, to the same digest.
	large := bytes.Repeat([]byte("0123456789abcdef"), (asyncHashSize+3)/16)
	os.WriteFile(filepath.Join(dir, "large.bin"), large, 0o644)
	c, err = Walk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lookup("large.bin")
	rc, _ = l.Open()
	if _, err := io.CopyBuffer(io.Discard, rc, make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	os.Remove(filepath.Join(dir, "large.bin"))
	sum = sha256.Sum256(large)
	if got, err := l.Digest(); err != nil || got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("large file: digest %s, %v", got, err)
	}

	// A partial read leaves Digest to read the file itself.
	g, _ := c.Lookup("other.bin")
	rc, _ = g.Open()
	rc.Read(make([]byte, 2))
	rc.Close()
	sum = sha256.Sum256([]byte("other.bin"))
	if got, err := g.Digest(); err != nil || got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("digest after a partial read: %s, %v", got, err)
	}
}
