package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImportHostileTarballs feeds import tarballs that try to write outside
// the root, and checks each is refused (or, where harmless, normalised),
// that nothing appears outside the store, and that a refusal leaves the
// store as it was.
func TestImportHostileTarballs(t *testing.T) {
	outside := t.TempDir() // where an escape would land
	marker := filepath.Join(outside, "escaped")
	rel, err := filepath.Rel("/", marker)
	if err != nil {
		t.Fatal(err)
	}
	climb := strings.Repeat("../", 20) + rel
	file := func(name string) tarEntry {
		return tarEntry{name: name, typ: tar.TypeReg, mode: 0o644, body: []byte("pwned")}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(makeTar(t, []tarEntry{file("a"), file("b"), {name: "big", typ: tar.TypeReg, mode: 0o644, body: bytes.Repeat([]byte("x"), 1<<16)}}))
	zw.Close()

	for _, tc := range []struct {
		name  string
		input []byte
		want  string // error text; "" means the import must succeed
	}{
		{"dotdot", makeTar(t, []tarEntry{file("ok"), file(climb)}), "path escapes the root filesystem"},
		{"dotdot-in-middle", makeTar(t, []tarEntry{file("a/../../" + rel)}), "path escapes the root filesystem"},
		{"hardlink-outside", makeTar(t, []tarEntry{{name: "passwd", typ: tar.TypeLink, link: "../../../etc/passwd"}}), "hard link"},
		{"hardlink-missing", makeTar(t, []tarEntry{{name: "passwd", typ: tar.TypeLink, link: "etc/passwd"}}), "hard link target is not in the archive"},
		{"file-through-symlink", makeTar(t, []tarEntry{{name: "evil", typ: tar.TypeSymlink, link: outside}, file("evil/escaped")}), "goes through a symbolic link"},
		{"file-through-relative-symlink", makeTar(t, []tarEntry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/up", typ: tar.TypeSymlink, link: strings.Repeat("../", 20) + filepath.Dir(rel)}, file("d/up/escaped")}), "goes through a symbolic link"},
		{"truncated-gzip", gz.Bytes()[:gz.Len()/2], "truncated"},
		{"not-a-tar", []byte("this is not a tarball, it is a sentence that goes on for a while so that it is longer than one tar block of five hundred and twelve bytes, which the reader needs before it can say anything about a header at all; keep going a little longer to be sure of that, padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding"), "not a tar archive"},
		{"empty", []byte{}, "empty input"},
		// Harmless once normalised: absolute names become relative, and a
		// symbolic link's target is resolved inside the container's root.
		{"absolute-names", makeTar(t, []tarEntry{file("/" + rel)}), ""},
		{"symlink-to-host-path", makeTar(t, []tarEntry{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ok("import", busyboxTar(t), "keep")
			before := e.snapshot()
			input := filepath.Join(t.TempDir(), "in.tar")
			if err := os.WriteFile(input, tc.input, 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				e.fails(tc.want, "import", input, "hostile")
				e.assertUnchanged(before)
			} else {
				e.ok("import", input, "hostile")
				checkLayerNames(t, e, "hostile")
			}
			if _, err := os.Lstat(marker); err == nil {
				t.Fatalf("import wrote %s outside the store", marker)
			}
		})
	}
}

// checkLayerNames saves an image and checks its layer holds only clean,
// relative names.
func checkLayerNames(t *testing.T, e *env, name string) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "out.tar")
	e.ok("save", "-o", archive, name)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outer := tar.NewReader(f)
	for {
		hdr, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hdr.Name, "blobs/sha256/") || hdr.Size < 1024 {
			continue
		}
		inner := tar.NewReader(outer)
		for {
			h, err := inner.Next()
			if err != nil {
				break
			}
			if strings.HasPrefix(h.Name, "/") || strings.Contains(h.Name, "..") {
				t.Errorf("layer holds %q", h.Name)
			}
		}
	}
}

// TestLoadArchiveWithMissingBlobs refuses an archive whose manifest names
// blobs it does not hold, before writing anything.
func TestLoadArchiveWithMissingBlobs(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "keep")
	before := e.snapshot()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("a", 64) + `"]}}`)
	docker := makeTar(t, []tarEntry{
		{name: "config.json", typ: tar.TypeReg, mode: 0o644, body: cfg},
		{name: "manifest.json", typ: tar.TypeReg, mode: 0o644, body: []byte(`[{"Config":"config.json","RepoTags":["evil:latest"],"Layers":["missing/layer.tar"]}]`)},
	})
	oci := makeTar(t, []tarEntry{
		{name: "oci-layout", typ: tar.TypeReg, mode: 0o644, body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", typ: tar.TypeReg, mode: 0o644, body: []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("b", 64) + `","size":10}]}`)},
	})
	for name, archive := range map[string][]byte{"docker-archive": docker, "oci": oci} {
		p := filepath.Join(t.TempDir(), name+".tar")
		os.WriteFile(p, archive, 0o644)
		r := e.fails("does not contain", "load", "-i", p)
		if name == "docker-archive" && !strings.Contains(r.stderr, "missing/layer.tar") {
			t.Errorf("error does not name the missing layer: %s", r.stderr)
		}
		e.assertUnchanged(before)
	}
	e.fails("not an image archive", "load", "-i", busyboxTar(t))
	e.assertUnchanged(before)
}

// TestLoadTamperedBlob refuses an archive whose blob does not match its digest.
func TestLoadTamperedBlob(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	saved := filepath.Join(t.TempDir(), "bb.tar")
	e.ok("save", "-o", saved, "busybox")
	layer := strings.TrimPrefix(strings.TrimSpace(e.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", "busybox")), "sha256:")
	tampered := rewriteTar(t, saved, func(name string, body []byte) []byte {
		if strings.HasSuffix(name, layer) {
			body = bytes.Clone(body)
			body[len(body)/2] ^= 0xff
		}
		return body
	})
	e2 := newEnv(t)
	e2.fails("blob sha256:"+layer+" is corrupt", "load", "-i", tampered)
	if out := e2.ok("images", "-q"); out != "" {
		t.Fatalf("a tampered load left images: %s", out)
	}
}

func rewriteTar(t *testing.T, path string, edit func(string, []byte) []byte) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(f), tar.NewWriter(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		body = edit(hdr.Name, body)
		hdr.Size = int64(len(body))
		tw.WriteHeader(hdr)
		tw.Write(body)
	}
	tw.Close()
	out := filepath.Join(t.TempDir(), "edited.tar")
	os.WriteFile(out, buf.Bytes(), 0o644)
	return out
}

// TestCorruptBlobIsReported damages blobs inside the store and checks that
// the commands reading them name the blob and fail, and that save leaves
// no partial archive behind.
func TestCorruptBlobIsReported(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "busybox")
	layer := strings.TrimPrefix(strings.TrimSpace(e.ok("inspect", "-f", "{{index .RootFS.Layers 0}}", "busybox")), "sha256:")
	id := strings.TrimPrefix(strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", "busybox")), "sha256:")

	damage(t, filepath.Join(e.root, "blobs", "sha256", layer))
	out := filepath.Join(t.TempDir(), "out.tar")
	e.fails("blob sha256:"+layer+" is corrupt", "save", "-o", out, "busybox")
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed save left its output file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Fatalf("a failed save left %v", entries)
	}

	damage(t, filepath.Join(e.root, "blobs", "sha256", id))
	for _, cmd := range [][]string{{"images"}, {"inspect", "busybox"}, {"history", "busybox"}} {
		e.fails("blob sha256:"+id+" is corrupt", cmd...)
	}
}

func damage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKilledImportLeavesAWorkingStore kills strata -9 in the middle of an
// import and checks every command still works and prune clears the rest.
func TestKilledImportLeavesAWorkingStore(t *testing.T) {
	e := newEnv(t)
	e.ok("import", busyboxTar(t), "keep")
	cmd := exec.Command(strataBin, "import", "-", "half")
	cmd.Env = append(os.Environ(), "STRATA_ROOT="+e.root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A tar stream that never ends: one big file, fed slowly.
	tw := tar.NewWriter(stdin)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40})
	chunk := bytes.Repeat([]byte("z"), 1<<20)
	ingest := filepath.Join(e.root, "ingest")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := stdin.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(ingest); len(entries) > 0 {
			if fi, err := entries[0].Info(); err == nil && fi.Size() > 4<<20 {
				break
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	out := e.ok("images")
	if !strings.Contains(out, "keep") || strings.Contains(out, "half") {
		t.Fatalf("images after a killed import:\n%s", out)
	}
	e.ok("save", "-o", filepath.Join(t.TempDir(), "keep.tar"), "keep")
	if pr := e.ok("prune", "-f"); !strings.Contains(pr, "Total reclaimed space") {
		t.Fatalf("prune: %s", pr)
	}
	if entries, _ := os.ReadDir(ingest); len(entries) != 0 {
		t.Fatalf("prune left %d files in ingest", len(entries))
	}
	e.ok("import", busyboxTar(t), "after")
}

func TestHelpHasExamples(t *testing.T) {
	e := newEnv(t)
	var root struct{}
	_ = root
	for _, c := range []string{"images", "import", "history", "inspect", "tag", "rmi", "prune", "save", "load", "version"} {
		out := e.ok(c, "--help")
		if !strings.Contains(out, "Examples:") {
			t.Errorf("strata %s --help has no examples", c)
		}
	}
	if v := e.ok("version", "--format", "json"); !json.Valid([]byte(v)) {
		t.Errorf("version --format json: %q", v)
	}
	_ = fmt.Sprint()
}
