package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestImportListHistoryInspect(t *testing.T) {
	e := newEnv(t)
	id := strings.TrimSpace(e.ok("import", busyboxTar(t), "busybox"))
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("import printed %q, want an image ID", id)
	}

	out := e.ok("images")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REPOSITORY") {
		t.Fatalf("images:\n%s", out)
	}
	f := strings.Fields(lines[1])
	if f[0] != "busybox" || f[1] != "latest" || f[2] != id[7:19] {
		t.Fatalf("images row %q, want busybox latest %s", lines[1], id[7:19])
	}

	var row map[string]any
	if err := json.Unmarshal([]byte(e.ok("images", "--format", "json")), &row); err != nil {
		t.Fatal(err)
	}
	if row["Repository"] != "busybox" || row["Tag"] != "latest" || row["ID"] != id[7:19] {
		t.Fatalf("images --format json = %v", row)
	}

	hist := e.ok("history", "busybox")
	if !strings.Contains(hist, "filesystem") || !strings.Contains(hist, "Imported from") || !strings.Contains(hist, "STEP") {
		t.Fatalf("history:\n%s", hist)
	}

	var docs []map[string]any
	if err := json.Unmarshal([]byte(e.ok("inspect", "busybox")), &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0]["Id"] != id {
		t.Fatalf("inspect Id = %v, want %s", docs[0]["Id"], id)
	}
	for _, k := range []string{"RepoTags", "RepoDigests", "Created", "Config", "RootFS", "Size"} {
		if _, ok := docs[0][k]; !ok {
			t.Errorf("inspect lacks %s", k)
		}
	}
	if got := strings.TrimSpace(e.ok("inspect", "--format", "{{.Id}}", "busybox")); got != id {
		t.Fatalf("inspect --format {{.Id}} = %q", got)
	}
	// Every way of naming the image finds it.
	for _, name := range []string{"busybox:latest", "docker.io/library/busybox", id, id[7:19], id[7:12]} {
		if got := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", name)); got != id {
			t.Errorf("inspect %s = %q", name, got)
		}
	}
}

func TestUnknownImage(t *testing.T) {
	e := newEnv(t)
	for _, cmd := range [][]string{{"inspect", "nope"}, {"history", "nope"}, {"rmi", "nope"}, {"tag", "nope", "x"}, {"save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nope"}} {
		r := e.run(cmd...)
		if r.code != 1 || strings.TrimSpace(r.stderr) != "Error: no such image: nope" {
			t.Errorf("strata %v: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
}

func TestTagRmiPrune(t *testing.T) {
	e := newEnv(t)
	tarball := busyboxTar(t)
	e.ok("import", tarball, "app:v1")
	e.ok("tag", "app:v1", "localhost:5000/team/app:v1")
	if out := e.ok("images"); !strings.Contains(out, "localhost:5000/team/app") {
		t.Fatalf("images after tag:\n%s", out)
	}
	out := e.ok("rmi", "app:v1")
	if !strings.Contains(out, "Untagged: app:v1") || strings.Contains(out, "Deleted") {
		t.Fatalf("rmi of one of two names:\n%s", out)
	}
	// Re-importing under the same name leaves the old image dangling.
	e.ok("import", tarball, "localhost:5000/team/app:v1")
	if out := e.ok("images"); !strings.Contains(out, "<none>") {
		t.Fatalf("images after retag:\n%s", out)
	}
	out = e.ok("prune", "-f")
	if !strings.Contains(out, "Total reclaimed space:") || !strings.Contains(out, "deleted: sha256:") {
		t.Fatalf("prune:\n%s", out)
	}
	if out := e.ok("images"); strings.Contains(out, "<none>") {
		t.Fatalf("images after prune:\n%s", out)
	}
	out = e.ok("rmi", "localhost:5000/team/app:v1")
	if !strings.Contains(out, "Deleted: sha256:") {
		t.Fatalf("rmi of the last name:\n%s", out)
	}
	blobs, _ := os.ReadDir(filepath.Join(e.root, "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Fatalf("%d blobs left after removing every image", len(blobs))
	}
}

func TestSaveLoadRoundTripKeepsID(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	id := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", "busybox"))
	digest := strings.TrimSpace(e.ok("inspect", "-f", "{{.Descriptor.digest}}", "busybox"))
	archive := filepath.Join(t.TempDir(), "bb.tar")
	e.ok("save", "-o", archive, "busybox")

	// Saving twice gives the same bytes.
	again := filepath.Join(t.TempDir(), "bb2.tar")
	e.ok("save", "-o", again, "busybox")
	a, _ := os.ReadFile(archive)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Fatal("two saves of one image differ")
	}

	e2 := newEnv(t)
	if out := e2.ok("load", "-i", archive); strings.TrimSpace(out) != "Loaded image: busybox:latest" {
		t.Fatalf("load printed %q", out)
	}
	if got := strings.TrimSpace(e2.ok("inspect", "-f", "{{.Id}} {{.Descriptor.digest}}", "busybox")); got != id+" "+digest {
		t.Fatalf("after load: %q, want %q", got, id+" "+digest)
	}
	// From stdin too.
	e3 := newEnv(t)
	r := e3.runIn(a, "load")
	if r.code != 0 || !strings.Contains(r.stdout, "Loaded image: busybox:latest") {
		t.Fatalf("load from stdin: %+v", r)
	}
}

// podmanEnv points podman at storage of the test's own.
func podmanEnv(t *testing.T) []string {
	requireTool(t, "podman")
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage.conf")
	conf := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err := os.WriteFile(storage, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	containers := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(containers, []byte("[engine]\nruntime = \"runc\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "CONTAINERS_STORAGE_CONF="+storage, "CONTAINERS_CONF="+containers)
}

func podman(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestPodmanLoadsStrataSave(t *testing.T) {
	env := podmanEnv(t)
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	id := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", "busybox"))
	layers := strings.TrimSpace(e.ok("inspect", "-f", "{{json .RootFS.Layers}}", "busybox"))
	archive := filepath.Join(t.TempDir(), "bb.tar")
	e.ok("save", "-o", archive, "busybox")

	out := podman(t, env, "load", "-i", archive)
	if !strings.Contains(out, "busybox:latest") {
		t.Fatalf("podman load:\n%s", out)
	}
	got := strings.TrimSpace(podman(t, env, "image", "inspect", "--format", "sha256:{{.Id}} {{json .RootFS.Layers}}", "busybox:latest"))
	if got != id+" "+layers {
		t.Fatalf("podman sees %q, strata %q", got, id+" "+layers)
	}
}

func TestSkopeoReadsStrataSave(t *testing.T) {
	requireTool(t, "skopeo")
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	layers := strings.TrimSpace(e.ok("inspect", "-f", "{{json .RootFS.Layers}}", "busybox"))
	archive := filepath.Join(t.TempDir(), "bb.tar")
	e.ok("save", "-o", archive, "busybox")
	for _, transport := range []string{"docker-archive:", "oci-archive:"} {
		out, err := exec.Command("skopeo", "inspect", transport+archive).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect %s: %v\n%s", transport, err, out)
		}
		var doc struct{ Layers []string }
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(doc.Layers); string(b) != layers {
			t.Fatalf("skopeo %s layers %s, strata %s", transport, b, layers)
		}
	}
}

func TestLoadPodmanSave(t *testing.T) {
	env := podmanEnv(t)
	e := newEnv(t)
	podman(t, env, "import", busyboxTar(t), "localhost/pbox:v1")
	podmanID := strings.TrimSpace(podman(t, env, "image", "inspect", "--format", "sha256:{{.Id}}", "localhost/pbox:v1"))
	for _, format := range []string{"docker-archive", "oci-archive"} {
		archive := filepath.Join(t.TempDir(), format+".tar")
		podman(t, env, "save", "--format", format, "-o", archive, "localhost/pbox:v1")
		e := newEnv(t)
		out := e.ok("load", "-i", archive)
		if !strings.Contains(out, "Loaded image") {
			t.Fatalf("load %s: %s", format, out)
		}
		if got := strings.TrimSpace(e.ok("images", "-q", "--no-trunc")); got != podmanID {
			t.Fatalf("load %s: image ID %q, podman's %q", format, got, podmanID)
		}
	}
	_ = e
}

func TestSkopeoDockerArchiveLoads(t *testing.T) {
	requireTool(t, "skopeo")
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	id := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", "busybox"))
	saved := filepath.Join(t.TempDir(), "bb.tar")
	e.ok("save", "-o", saved, "busybox")
	copied := filepath.Join(t.TempDir(), "copied.tar")
	if out, err := exec.Command("skopeo", "copy", "oci-archive:"+saved, "docker-archive:"+copied+":copied/bb:v2").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	e2 := newEnv(t)
	if out := e2.ok("load", "-i", copied); !strings.Contains(out, "copied/bb:v2") {
		t.Fatalf("load: %s", out)
	}
	if got := strings.TrimSpace(e2.ok("inspect", "-f", "{{.Id}}", "copied/bb:v2")); got != id {
		t.Fatalf("ID after skopeo copy %q, want %q", got, id)
	}
}

// TestConcurrentTagProcesses starts 8 strata processes tagging at once.
func TestConcurrentTagProcesses(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "base")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(strataBin, "tag", "base", fmt.Sprintf("tagged%d:v%d", i, i))
			cmd.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("tag %d: %v %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	out := e.ok("images")
	for i := 0; i < 8; i++ {
		if !strings.Contains(out, fmt.Sprintf("tagged%d ", i)) {
			t.Errorf("tag tagged%d lost:\n%s", i, out)
		}
	}
}
