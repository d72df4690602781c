package image_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/image/imagetest"
)

func TestMemoryStore(t *testing.T) {
	imagetest.Run(t, func(t *testing.T) *image.Store { return image.NewMemory() })
}

func TestDiskStore(t *testing.T) {
	imagetest.Run(t, func(t *testing.T) *image.Store {
		s, err := image.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestDiskStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := image.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	imagetest.Tag(t, s, "app:v1", imagetest.WriteRandom(t, s, "r"))
	s2, err := image.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Lookup(context.Background(), "app:v1"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentTaggingProcesses runs 8 processes that each tag 10 names in
// one store at once: every one of the 80 tags must survive.
func TestConcurrentTaggingProcesses(t *testing.T) {
	if dir := os.Getenv("STRATA_TEST_TAGGER_DIR"); dir != "" {
		s, err := image.Open(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		p := os.Getenv("STRATA_TEST_TAGGER")
		d := imagetest.WriteRandom(t, s, "p"+p)
		for i := 0; i < 10; i++ {
			imagetest.Tag(t, s, fmt.Sprintf("proc%s:t%d", p, i), d)
		}
		return
	}
	dir := t.TempDir()
	if _, err := image.Open(dir); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentTaggingProcesses$")
			cmd.Env = append(os.Environ(), "STRATA_TEST_TAGGER_DIR="+dir, "STRATA_TEST_TAGGER="+strconv.Itoa(p))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("tagger %d: %v\n%s", p, err, out)
			}
		}(p)
	}
	wg.Wait()
	s, err := image.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 8; p++ {
		for i := 0; i < 10; i++ {
			if _, err := s.Lookup(context.Background(), fmt.Sprintf("proc%d:t%d", p, i)); err != nil {
				t.Errorf("tag lost: %v", err)
			}
		}
	}
}

// TestConcurrentTaggingGoroutines is the same race inside one process.
func TestConcurrentTaggingGoroutines(t *testing.T) {
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := imagetest.WriteRandom(t, s, "g")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				imagetest.Tag(t, s, fmt.Sprintf("g%d:t%d", g, i), d)
			}
		}(g)
	}
	wg.Wait()
	img, err := s.Lookup(context.Background(), "g0:t0")
	if err != nil || len(img.Names) != 40 {
		t.Fatalf("image has %d names (%v), want 40", len(img.Names), err)
	}
}
