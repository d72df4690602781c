package build

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// slowEntries are n small files whose reads take d each.
func slowEntries(n int, d time.Duration) []entry {
	var es []entry
	for range n {
		es = append(es, entry{typ: tar.TypeReg, size: 3, open: func() (io.ReadCloser, error) {
			time.Sleep(d)
			return io.NopCloser(strings.NewReader("abc")), nil
		}})
	}
	return es
}

// Cancelling a build while the tar writer waits for a file read ahead
// ends the wait with the context's error, and stop returns.
func TestReadAheadCancelled(t *testing.T) {
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		r := readAhead(ctx, slowEntries(40, time.Millisecond))
		if r == nil {
			t.Fatal("no read-ahead for 40 small files")
		}
		if _, err := r.next(); err != nil {
			t.Fatal(err)
		}
		cancel()
		done := make(chan error, 1)
		go func() {
			var err error
			for err == nil {
				_, err = r.next()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("next after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("next hung after the build was cancelled")
		}
		r.stop()
	}
}

// Every file comes back in order, with its bytes.
func TestReadAheadOrder(t *testing.T) {
	var es []entry
	for i := range 50 {
		body := strings.Repeat(string(rune('a'+i%26)), i)
		es = append(es, entry{typ: tar.TypeReg, size: int64(len(body)), open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(body)), nil
		}})
	}
	r := readAhead(context.Background(), es)
	defer r.stop()
	for i := range es {
		c, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat(string(rune('a'+i%26)), i); string(*c) != want {
			t.Fatalf("file %d: %q, want %q", i, *c, want)
		}
		r.release(c)
	}
	// A file shorter than its entry says is an error, not a short layer.
	short := slowEntries(40, 0)
	short[5].size = 10
	r2 := readAhead(context.Background(), short)
	defer r2.stop()
	for i := range 6 {
		if _, err := r2.next(); (err != nil) != (i == 5) || (i == 5 && !errors.Is(err, errChangedSize)) {
			t.Fatalf("file %d: %v", i, err)
		}
	}
}
