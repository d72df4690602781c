package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// project writes a build context: files maps paths to contents.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildEnv is a store holding a busybox base image.
func buildEnv(t *testing.T) *env {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	return e
}

// steps runs a build and returns its progress lines, step by step.
func (e *env) build(args ...string) (id string, progress string) {
	e.t.Helper()
	r := e.run(append([]string{"build"}, args...)...)
	if r.code != 0 {
		e.t.Fatalf("strata build %v: exit %d\n%s", args, r.code, r.stderr)
	}
	m := regexp.MustCompile(`writing image (sha256:[0-9a-f]{64})`).FindStringSubmatch(r.stderr)
	if m == nil {
		e.t.Fatalf("build printed no image ID:\n%s", r.stderr)
	}
	return m[1], r.stderr
}

// stepLine finds the progress line of step n and the reason line after it.
func stepLine(t *testing.T, progress string, n int) (string, string) {
	t.Helper()
	lines := strings.Split(progress, "\n")
	prefix := regexp.MustCompile(`^\[(\S+ )?` + strconv.Itoa(n) + `/\d+\] `)
	var found, reason string
	for i, l := range lines {
		if prefix.MatchString(l) && (strings.HasSuffix(l, "CACHED") || regexp.MustCompile(`\d+\.\d\ds$`).MatchString(l)) {
			found = l
			if i+1 < len(lines) && strings.Contains(lines[i+1], "rebuilt: ") {
				reason = strings.TrimSpace(lines[i+1])
			}
		}
	}
	if found == "" {
		t.Fatalf("no line for step %d in:\n%s", n, progress)
	}
	return found, reason
}

const articleDockerfile = `FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN cat requirements.txt > installed.txt
COPY . .
EXPOSE 5000
CMD ["python", "app.py"]
`

func TestBuildCacheExplains(t *testing.T) {
	e := buildEnv(t)
	dir := project(t, map[string]string{
		"Dockerfile": articleDockerfile, "requirements.txt": "flask\nnumpy\nscikit-learn\n",
		"app.py": "print('v1')\n", ".dockerignore": "__pycache__/\n*.pyc\n*.pkl\n", "model.pkl": "weights",
	})
	id1, out := e.build("-t", "app", dir)
	for n := 2; n <= 7; n++ {
		if l, _ := stepLine(t, out, n); strings.HasSuffix(l, "CACHED") {
			t.Fatalf("first build: step %d cached: %s", n, l)
		}
	}

	// Nothing changed: every step cached, the same image.
	id2, out := e.build("-t", "app", dir)
	for n := 1; n <= 7; n++ {
		if l, _ := stepLine(t, out, n); !strings.HasSuffix(l, "CACHED") {
			t.Fatalf("no-op rebuild: step %d not cached:\n%s", n, out)
		}
	}
	if id2 != id1 {
		t.Fatalf("no-op rebuild changed the image: %s -> %s", id1, id2)
	}

	// Touching files without changing them rebuilds nothing.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "app.py"), later, later)
	os.Chtimes(filepath.Join(dir, "requirements.txt"), later, later)
	if id, out := e.build("-t", "app", dir); id != id1 || strings.Contains(out, "rebuilt:") {
		t.Fatalf("touch rebuilt something:\n%s", out)
	}

	// --no-cache rebuilds every step into the same image (its COPY steps
	// read each file once, digesting it for the key while writing the
	// layer), and the keys it records serve the next build.
	if id, out := e.build("--no-cache", "-t", "app", dir); id != id1 || !strings.Contains(out, "rebuilt: --no-cache") {
		t.Fatalf("--no-cache build gave %s, want %s:\n%s", id, id1, out)
	}
	if id, out := e.build("-t", "app", dir); id != id1 || strings.Contains(out, "rebuilt:") {
		t.Fatalf("build after --no-cache missed the cache:\n%s", out)
	}

	// A code change rebuilds from COPY . . with the reason, not before.
	os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('v2')\n"), 0o644)
	id3, out := e.build("-t", "app", dir)
	for n := 1; n <= 4; n++ {
		if l, _ := stepLine(t, out, n); !strings.HasSuffix(l, "CACHED") {
			t.Fatalf("after a code change step %d ran:\n%s", n, out)
		}
	}
	if _, why := stepLine(t, out, 5); why != "rebuilt: app.py changed" {
		t.Fatalf("step 5 reason %q:\n%s", why, out)
	}
	if _, why := stepLine(t, out, 6); why != "rebuilt: parent step 5 was rebuilt" {
		t.Fatalf("step 6 reason %q", why)
	}
	if id3 == id1 {
		t.Fatal("a code change kept the image ID")
	}

	// A dependency change reruns the install step.
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("flask\n"), 0o644)
	_, out = e.build("-t", "app", dir)
	if _, why := stepLine(t, out, 3); why != "rebuilt: requirements.txt changed" {
		t.Fatalf("step 3 reason %q:\n%s", why, out)
	}

	// prune drops the cache of layers no image uses, keeps the rest.
	if out := e.ok("prune", "-f"); !strings.Contains(out, "Deleted build cache records:") {
		t.Fatalf("prune after rebuilds:\n%s", out)
	}
	if _, out := e.build("-t", "app", dir); strings.Contains(out, "rebuilt:") {
		t.Fatalf("rebuild after prune missed the cache:\n%s", out)
	}

	// The history is the article's table.
	hist := e.ok("history", "--no-trunc", "app")
	for _, want := range []string{"WORKDIR /app", "COPY requirements.txt .", "RUN cat requirements.txt > installed.txt", "COPY . .", `CMD ["python", "app.py"]`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	if !regexp.MustCompile(`WORKDIR /app\s+metadata`).MatchString(hist) || !regexp.MustCompile(`COPY \. \.\s+filesystem`).MatchString(hist) {
		t.Errorf("history does not tell layers from metadata:\n%s", hist)
	}
	var cfg struct {
		Config struct{ ExposedPorts map[string]any }
	}
	json.Unmarshal([]byte(strings.Trim(e.ok("inspect", "app"), "[]\n")), &cfg)
	if _, ok := cfg.Config.ExposedPorts["5000/tcp"]; !ok {
		t.Errorf("EXPOSE 5000 missing from the config: %+v", cfg)
	}
}

func TestBuildArgReason(t *testing.T) {
	e := buildEnv(t)
	dir := project(t, map[string]string{"Dockerfile": "FROM busybox\nARG VERSION=1\nRUN echo $VERSION > /v\n"})
	e.build("--build-arg", "VERSION=1", dir)
	_, out := e.build("--build-arg", "VERSION=2", dir)
	if _, why := stepLine(t, out, 3); why != "rebuilt: --build-arg VERSION changed" {
		t.Fatalf("reason %q:\n%s", why, out)
	}
	_, out = e.build("--no-cache", "--build-arg", "VERSION=2", dir)
	if _, why := stepLine(t, out, 3); why != "rebuilt: --no-cache" {
		t.Fatalf("reason %q", why)
	}
}

func TestBuildReproducibleAcrossStores(t *testing.T) {
	dir := project(t, map[string]string{
		"Dockerfile": articleDockerfile, "requirements.txt": "flask\n", "app.py": "print(1)\n", "sub/data.txt": "x",
	})
	tarball := busyboxTar(t)
	var ids []string
	for i := 0; i < 2; i++ {
		e := newEnv(t)
		// The same base image: import it with the same creation time.
		e.ok("load", "-i", savedBase(t, tarball))
		id, _ := e.build("-t", "app", dir)
		digest := strings.TrimSpace(e.ok("inspect", "-f", "{{.Descriptor.digest}}", "app"))
		ids = append(ids, id+" "+digest)
		// Files get new times between the builds: nothing changes.
		later := time.Now().Add(time.Duration(i+1) * time.Hour)
		os.Chtimes(filepath.Join(dir, "app.py"), later, later)
	}
	if ids[0] != ids[1] {
		t.Fatalf("two fresh stores built different images:\n%s\n%s", ids[0], ids[1])
	}
}

// A COPY of many small files and a large one: with --no-cache strata
// reads each file once (reading small ones ahead, hashing large ones on
// other goroutines) and makes the cache key after the layer. The layer
// must hold every byte (umoci unpacks it), the keys must be those a
// cached build computes, and a fresh store must build the same image.
func TestBuildManyFilesOneReading(t *testing.T) {
	files := map[string]string{"Dockerfile": "FROM busybox\nCOPY . /data/\n"}
	for i := range 100 {
		files[fmt.Sprintf("src/pkg%d/mod%03d.py", i%7, i)] = strings.Repeat(fmt.Sprintf("line %d\n", i), i*13)
	}
	large := make([]byte, 5<<20+3)
	for i := range large {
		large[i] = byte(i*7 + i/4096)
	}
	files["model.bin"] = string(large)
	dir := project(t, files)

	e := newEnv(t)
	e.ok("load", "-i", savedBase(t, busyboxTar(t)))
	id, out := e.build("--no-cache", "-t", "many", dir)
	if !strings.Contains(out, "rebuilt: --no-cache") {
		t.Fatalf("no --no-cache step:\n%s", out)
	}
	rootfs := unpack(t, e, "many")
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(rootfs, "data", p))
		if err != nil {
			t.Fatalf("%s is not in the image: %v", p, err)
		}
		if string(got) != want {
			t.Fatalf("%s in the image (%d bytes) differs from the context's (%d bytes)", p, len(got), len(want))
		}
	}
	if again, out := e.build("-t", "many", dir); again != id || strings.Contains(out, "rebuilt:") {
		t.Fatalf("the build after --no-cache missed the cache (%s, %s):\n%s", id, again, out)
	}
	// A fresh store hashes the files before the step (its parent is
	// cached): the same image.
	e2 := newEnv(t)
	e2.ok("load", "-i", savedBase(t, busyboxTar(t)))
	if other, out := e2.build("-t", "many", dir); other != id {
		t.Fatalf("a fresh store built %s, --no-cache built %s:\n%s", other, id, out)
	}
}

var baseArchive string

// savedBase is one busybox image archive shared by tests that need the
// very same base image in several stores.
func savedBase(t *testing.T, tarball string) string {
	if baseArchive != "" {
		return baseArchive
	}
	e := newEnv(t)
	e.ok("import", tarball, "busybox")
	p := filepath.Join(os.TempDir(), "strata-e2e-busybox-base.tar")
	e.ok("save", "-o", p, "busybox")
	baseArchive = p
	return p
}

func TestBuildIgnoredFilesNeverReachALayer(t *testing.T) {
	e := buildEnv(t)
	dir := project(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY . /app/\n", ".dockerignore": "*.pkl\nsecrets/\n!secrets/public.txt\n",
		"app.py": "x", "model.pkl": "weights", "secrets/key": "k", "secrets/public.txt": "p",
	})
	e.build("-t", "ign", dir)
	rootfs := unpack(t, e, "ign")
	for _, p := range []string{"app/model.pkl", "app/secrets/key"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s reached the image", p)
		}
	}
	for _, p := range []string{"app/app.py", "app/secrets/public.txt"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("%s is missing from the image", p)
		}
	}
	// Changing an ignored file rebuilds nothing.
	os.WriteFile(filepath.Join(dir, "model.pkl"), []byte("new weights"), 0o644)
	if _, out := e.build("-t", "ign", dir); strings.Contains(out, "rebuilt:") {
		t.Fatalf("an ignored file changed the build:\n%s", out)
	}
	// --check explains what a whole-context COPY leaves out.
	if out := e.ok("build", "--check", dir); !strings.Contains(out, "model.pkl") {
		t.Errorf("--check did not mention model.pkl:\n%s", out)
	}
}

// unpack saves an image and unpacks it with umoci, the peer that must
// accept what strata writes, returning the root filesystem.
func unpack(t *testing.T, e *env, name string) string {
	t.Helper()
	requireTool(t, "umoci")
	dir := t.TempDir()
	archive := filepath.Join(dir, "img.tar")
	e.ok("save", "-o", archive, name)
	layout := filepath.Join(dir, "layout")
	os.Mkdir(layout, 0o755)
	if out, err := exec.Command("tar", "-C", layout, "-xf", archive).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v %s", err, out)
	}
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.Command("umoci", "unpack", "--image", layout+":latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	return filepath.Join(bundle, "rootfs")
}

func TestBuildMultiStageAndWhiteout(t *testing.T) {
	e := buildEnv(t)
	dir := project(t, map[string]string{
		"Dockerfile": `FROM busybox AS builder
WORKDIR /src
COPY app.py .
RUN mkdir -p /out && cp app.py /out/app.py && echo built > /out/stamp

FROM busybox
COPY --from=builder /out/ /opt/app/
RUN echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1001:" >> /etc/group
COPY --chown=app:app --chmod=0750 app.py /home/app/
RUN rm /etc/passwd
CMD ["sh"]
`,
		"app.py": "print('multi')\n",
	})
	e.build("-t", "multi", dir)
	waitFlushed(t, e.root, "a build whose RUN steps unpacked busybox")
	rootfs := unpack(t, e, "multi")
	if b, err := os.ReadFile(filepath.Join(rootfs, "opt/app/stamp")); err != nil || string(b) != "built\n" {
		t.Fatalf("COPY --from: stamp %q %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs, "opt/app/app.py")); string(b) != "print('multi')\n" {
		t.Fatalf("COPY --from: app.py %q", b)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc/passwd")); err == nil {
		t.Fatal("RUN rm /etc/passwd: the file is still in the image")
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin/busybox")); err != nil {
		t.Fatal("the base image's files are missing")
	}
	fi, err := os.Stat(filepath.Join(rootfs, "home/app/app.py"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1001 || fi.Mode().Perm() != 0o750 {
		t.Fatalf("COPY --chown=app:app --chmod=0750: %d:%d %o", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

func TestBuildCacheMountPersists(t *testing.T) {
	e := buildEnv(t)
	dir := project(t, map[string]string{
		"Dockerfile": "FROM busybox\nARG N\nRUN --mount=type=cache,target=/root/.cache sh -c 'echo $N >> /root/.cache/runs; wc -l < /root/.cache/runs > /count'\n",
	})
	e.build("--build-arg", "N=1", "-t", "c", dir)
	e.build("--build-arg", "N=2", "-t", "c", dir)
	rootfs := unpack(t, e, "c")
	if b, _ := os.ReadFile(filepath.Join(rootfs, "count")); strings.TrimSpace(string(b)) != "2" {
		t.Fatalf("the cache mount did not persist: count %q", b)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "root/.cache/runs")); err == nil {
		t.Fatal("a cache mount's files leaked into the layer")
	}
}

func TestBuildBadInput(t *testing.T) {
	e := buildEnv(t)
	outside := project(t, map[string]string{"secret": "s"})
	for _, tc := range []struct{ name, dockerfile, want string }{
		{"syntax", "FROM busybox\nRUN echo \"\nCOPY\n", "Dockerfile:3:"},
		{"unknown instruction", "FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"},
		{"missing source", "FROM busybox\nCOPY nothere.txt /\n", "Dockerfile:2: nothere.txt: not found in the build context"},
		{"outside the context", "FROM busybox\nCOPY ../" + filepath.Base(outside) + "/secret /\n", "Dockerfile:2:"},
		{"undefined ARG", "FROM busybox\nCOPY $VERSION /x\n", "Dockerfile:2: $VERSION is not defined"},
		{"unknown base", "FROM nosuchimage:1\nRUN true\n", "Dockerfile:1: FROM nosuchimage:1: no such image"},
		{"secret mount", "FROM busybox\nRUN --mount=type=secret,id=x true\n", "Dockerfile:2: RUN --mount=type=secret is not supported"},
		{"failing RUN", "FROM busybox\nRUN exit 3\n", "Dockerfile:2: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, map[string]string{"Dockerfile": tc.dockerfile, "app.py": "x"})
			before := e.snapshot()
			r := e.fails(tc.want, "build", "-t", "bad", dir)
			if strings.Contains(r.stderr, "goroutine") {
				t.Fatalf("stack trace:\n%s", r.stderr)
			}
			if tc.name != "failing RUN" {
				e.assertUnchanged(before)
			}
			if out := e.ok("images", "bad"); strings.Contains(out, "bad") {
				t.Fatalf("a failed build named an image:\n%s", out)
			}
		})
	}
}

// TestArticleExample builds examples/ml-flask, the article's project, on a
// busybox stand-in for python:3.10 (the registry issue brings the real base).
func TestArticleExample(t *testing.T) {
	e := buildEnv(t)
	e.ok("tag", "busybox", "python:3.10")
	dir, err := filepath.Abs("../examples/ml-flask")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.TempDir()
	if out, err := exec.Command("cp", "-a", dir+"/.", ctx).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	// train_model.py writes model.pkl, which .dockerignore then keeps out.
	os.WriteFile(filepath.Join(ctx, "model.pkl"), []byte("pickle"), 0o644)
	out := e.ok("build", "--check", ctx)
	if !strings.Contains(out, "every code change reinstalls the dependencies") || !strings.Contains(out, "model.pkl") {
		t.Fatalf("--check on the article's Dockerfile:\n%s", out)
	}
	// Its RUN pip install needs python; the stand-in replaces RUN with a no-op.
	df, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	standIn := strings.ReplaceAll(string(df), "RUN pip install -r requirements.txt", "RUN cat requirements.txt")
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(standIn), 0o644)
	e.build("-t", "ml-flask-app", ctx)
	hist := e.ok("history", "ml-flask-app")
	if !strings.Contains(hist, "EXPOSE 5000") || !strings.Contains(hist, "WORKDIR /app") {
		t.Fatalf("history:\n%s", hist)
	}
}
