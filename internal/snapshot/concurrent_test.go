package snapshot

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
)

// bigLayer is a layer of n files of size bytes each, named by prefix.
func bigLayer(t testing.TB, prefix string, n, size int) []byte {
	var entries []entry
	entries = append(entries, dir(prefix+"/"))
	body := strings.Repeat(prefix, size/len(prefix)+1)[:size]
	for i := range n {
		entries = append(entries, file(fmt.Sprintf("%s/f%05d", prefix, i), body))
	}
	return tarOf(t, entries...)
}

// TestPrepareConcurrent has 4 goroutines and 2 processes prepare the same
// image at once: every layer is unpacked exactly once and all succeed.
func TestPrepareConcurrent(t *testing.T) {
	needRoot(t)
	if root := os.Getenv("STRATA_TEST_PREPARE"); root != "" {
		prepareChild(t, root)
		return
	}
	is, _ := stores(t)
	root := is.Root()
	layers := [][]byte{bigLayer(t, "a", 1000, 2000), bigLayer(t, "b", 1000, 2000), bigLayer(t, "c", 1000, 2000)}
	testImage(t, is, "test/concurrent:1", "gzip", layers...)
	start := filepath.Join(root, "start")

	var outs []io.ReadCloser
	var cmds []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPrepareConcurrent$", "-test.v")
		cmd.Env = append(os.Environ(), "STRATA_TEST_PREPARE="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	time.Sleep(300 * time.Millisecond) // let the children reach the start line
	os.WriteFile(start, nil, 0o644)

	var wg sync.WaitGroup
	results := make([][]string, 4)
	errs := make([]error, 4)
	counts := make([]int64, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, err := Open(root)
			if err != nil {
				errs[i] = err
				return
			}
			ss.NoSync = true
			img, err := is.Lookup(context.Background(), "test/concurrent:1")
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = ss.Prepare(context.Background(), is, img)
			counts[i] = ss.unpacks.Load()
		}()
	}
	wg.Wait()
	total := int64(0)
	for i := range 4 {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if strings.Join(results[i], ":") != strings.Join(results[0], ":") {
			t.Fatalf("goroutines disagree: %v vs %v", results[i], results[0])
		}
		total += counts[i]
	}
	for i, cmd := range cmds {
		sc := bufio.NewScanner(outs[i])
		child := int64(-1)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "unpacked "); ok {
				child, _ = strconv.ParseInt(n, 10, 64)
			}
		}
		if err := cmd.Wait(); err != nil || child < 0 {
			t.Fatalf("process %d: %v (unpacked %d)", i, err, child)
		}
		total += child
	}
	if total != int64(len(layers)) {
		t.Fatalf("%d unpacks of %d layers", total, len(layers))
	}
	for _, l := range results[0] {
		if _, err := os.Stat(filepath.Join(l, filepath.Base(l))); err == nil {
			t.Fatal("nested snapshot")
		}
		entries, _ := os.ReadDir(l)
		if len(entries) != 1 {
			t.Fatalf("%s holds %d entries", l, len(entries))
		}
	}
}

// prepareChild is the other process of TestPrepareConcurrent.
func prepareChild(t *testing.T, root string) {
	for {
		if _, err := os.Stat(filepath.Join(root, "start")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	is, err := image.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ss.NoSync = true
	img, err := is.Lookup(t.Context(), "test/concurrent:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Prepare(t.Context(), is, img); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("unpacked %d\n", ss.unpacks.Load())
}

// stallingStore serves blobs that stop, forever, after 1 MiB.
type stallingStore struct{ content.Store }

func (s stallingStore) Open(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	rc, err := s.Store.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	return &stallingReader{rc: rc, left: 1 << 20}, nil
}

type stallingReader struct {
	rc   io.ReadCloser
	left int
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		fmt.Println("stalled")
		select {}
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= n
	return n, err
}

func (r *stallingReader) Close() error { return r.rc.Close() }

// TestPrepareKilled kills -9 a process in the middle of unpacking: no
// snapshot is visible, and the next Prepare unpacks it and cleans up.
func TestPrepareKilled(t *testing.T) {
	needRoot(t)
	if root := os.Getenv("STRATA_TEST_KILLED"); root != "" {
		is, _ := image.Open(root)
		ss, _ := Open(root)
		img, err := is.Lookup(t.Context(), "test/killed:1")
		if err != nil {
			t.Fatal(err)
		}
		cf, _, _ := is.ConfigFile(t.Context(), img)
		ss.PrepareLayers(t.Context(), stallingStore{is.Content()}, img.Manifest.Layers, cf.RootFS.DiffIDs)
		t.Fatal("the stalled unpack returned")
	}
	is, ss := stores(t)
	l := bigLayer(t, "k", 1000, 4096)
	img := testImage(t, is, "test/killed:1", "", l)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrepareKilled$")
	cmd.Env = append(os.Environ(), "STRATA_TEST_KILLED="+is.Root())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "stalled\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", line)
	}
	// Wait until files are on disk, half unpacked, then kill -9.
	tmp := filepath.Join(ss.Dir(), "tmp")
	var partial string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && partial == ""; time.Sleep(10 * time.Millisecond) {
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			if files, _ := os.ReadDir(filepath.Join(tmp, e.Name(), "k")); len(files) > 10 {
				partial = e.Name()
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if partial == "" {
		t.Fatal("the child unpacked nothing before it was killed")
	}
	chain := ChainIDs([]v1.Hash{digestOf(l)})[0]
	if ss.Exists(chain) {
		t.Fatal("a killed unpack left a visible snapshot")
	}
	if entries, _ := os.ReadDir(filepath.Join(ss.Dir(), "sha256")); len(entries) != 0 {
		t.Fatalf("sha256/ holds %d entries", len(entries))
	}
	lowers, err := ss.Prepare(t.Context(), is, img)
	if err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(filepath.Join(lowers[0], "k")); len(files) != 1000 {
		t.Fatalf("snapshot holds %d files", len(files))
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("tmp/ still holds %d entries", len(entries))
	}
}
