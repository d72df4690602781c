// Package contenttest is a conformance suite that every content.Store
// implementation must pass.
package contenttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
)

// Harness makes stores for the suite and damages blobs in them.
type Harness struct {
	// New returns an empty store.
	New func(t *testing.T) content.Store
	// Corrupt replaces the bytes stored under d, keeping the name.
	Corrupt func(t *testing.T, s content.Store, d v1.Hash, b []byte)
}

func digestOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("PutOpenRoundTrip", func(t *testing.T) {
		s := h.New(t)
		data := bytes.Repeat([]byte("strata"), 100000)
		info, err := content.PutBytes(ctx, s, data)
		if err != nil {
			t.Fatal(err)
		}
		if info.Digest != digestOf(data) || info.Size != int64(len(data)) {
			t.Fatalf("Put = %+v, want %s size %d", info, digestOf(data), len(data))
		}
		got, err := content.ReadAll(ctx, s, info.Digest)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadAll: %v (equal=%v)", err, bytes.Equal(got, data))
		}
		i2, err := s.Info(ctx, info.Digest)
		if err != nil || i2 != info {
			t.Fatalf("Info = %+v, %v; want %+v", i2, err, info)
		}
	})
	t.Run("PutIsIdempotent", func(t *testing.T) {
		s := h.New(t)
		for i := 0; i < 3; i++ {
			if _, err := content.PutBytes(ctx, s, []byte("same")); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, s); n != 1 {
			t.Fatalf("store holds %d blobs, want 1", n)
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		s := h.New(t)
		d := digestOf([]byte("absent"))
		if _, err := s.Info(ctx, d); !errors.Is(err, content.ErrNotFound) {
			t.Errorf("Info: %v, want ErrNotFound", err)
		}
		if _, err := s.Open(ctx, d); !errors.Is(err, content.ErrNotFound) {
			t.Errorf("Open: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, d); err != nil {
			t.Errorf("Delete of a missing blob: %v", err)
		}
	})
	t.Run("MismatchStoresNothing", func(t *testing.T) {
		s := h.New(t)
		_, err := content.Put(ctx, s, bytes.NewReader([]byte("actual")), digestOf([]byte("claimed")))
		var m *content.MismatchError
		if !errors.As(err, &m) {
			t.Fatalf("Put with a wrong digest: %v, want *MismatchError", err)
		}
		if n := count(t, s); n != 0 {
			t.Fatalf("store holds %d blobs after a refused write", n)
		}
	})
	t.Run("UncommittedIsInvisible", func(t *testing.T) {
		s := h.New(t)
		w, err := s.Writer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("partial"))
		if _, err := s.Info(ctx, w.Digest()); !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("uncommitted blob is visible: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 0 {
			t.Fatalf("store holds %d blobs after an abandoned write", n)
		}
	})
	t.Run("CorruptionIsReported", func(t *testing.T) {
		s := h.New(t)
		info, err := content.PutBytes(ctx, s, []byte("good bytes"))
		if err != nil {
			t.Fatal(err)
		}
		h.Corrupt(t, s, info.Digest, []byte("evil bytes"))
		_, err = content.ReadAll(ctx, s, info.Digest)
		var c *content.CorruptError
		if !errors.As(err, &c) || c.Digest != info.Digest {
			t.Fatalf("reading a corrupt blob: %v, want *CorruptError for %s", err, info.Digest)
		}
		if want := "blob " + info.Digest.String() + " is corrupt"; err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
		// A large blob is verified too (past its first megabytes the
		// digest is computed on another goroutine), intact or not.
		large := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
		info, err = content.PutBytes(ctx, s, large)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := content.ReadAll(ctx, s, info.Digest); err != nil || !bytes.Equal(got, large) {
			t.Fatalf("reading an intact large blob: %d bytes, %v", len(got), err)
		}
		evil := bytes.Clone(large)
		evil[len(evil)-1] ^= 1
		h.Corrupt(t, s, info.Digest, evil)
		if _, err = content.ReadAll(ctx, s, info.Digest); !errors.As(err, &c) || c.Digest != info.Digest {
			t.Fatalf("reading a corrupt large blob: %v, want *CorruptError for %s", err, info.Digest)
		}
	})
	t.Run("DeleteAndWalk", func(t *testing.T) {
		s := h.New(t)
		var ds []v1.Hash
		for i := 0; i < 5; i++ {
			info, err := content.PutBytes(ctx, s, []byte{byte(i)})
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, info.Digest)
		}
		if err := s.Delete(ctx, ds[0]); err != nil {
			t.Fatal(err)
		}
		if ok, _ := content.Has(ctx, s, ds[0]); ok {
			t.Fatal("deleted blob still present")
		}
		if n := count(t, s); n != 4 {
			t.Fatalf("Walk saw %d blobs, want 4", n)
		}
	})
	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := h.New(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				// Half the writers race on the same content.
				b := []byte(fmt.Sprintf("blob %d", i%8))
				if _, err := content.PutBytes(ctx, s, b); err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := count(t, s); n != 8 {
			t.Fatalf("store holds %d blobs, want 8", n)
		}
	})
	t.Run("ContextCancelled", func(t *testing.T) {
		s := h.New(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := content.Put(cctx, s, bytes.NewReader([]byte("x")), v1.Hash{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with a cancelled context: %v", err)
		}
		if n := count(t, s); n != 0 {
			t.Fatalf("store holds %d blobs after a cancelled write", n)
		}
	})
	t.Run("ShortReadIsNotVerified", func(t *testing.T) {
		// A reader closed early has not seen the whole blob; it must not claim corruption.
		s := h.New(t)
		info, err := content.PutBytes(ctx, s, bytes.Repeat([]byte("y"), 4096))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, info.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func count(t *testing.T, s content.Store) int {
	n := 0
	if err := s.Walk(context.Background(), func(content.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
