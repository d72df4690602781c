// Package content is strata's content-addressed blob store: every blob is
// named by the sha256 of its bytes, written to a temporary file, digested as
// it is written, fsynced and renamed into place, and verified again whenever
// it is read.
package content

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/asynchash"
)

// ErrNotFound is returned for a digest the store does not hold.
var ErrNotFound = errors.New("blob not found")

// CorruptError reports a blob whose bytes no longer match its digest.
type CorruptError struct {
	Digest v1.Hash
	Got    v1.Hash // what the bytes hash to now; zero if unknown
}

func (e *CorruptError) Error() string { return fmt.Sprintf("blob %s is corrupt", e.Digest) }

// MismatchError reports bytes offered under a digest they do not have.
type MismatchError struct {
	Expected, Got v1.Hash
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, got %s", e.Expected, e.Got)
}

// Info describes a stored blob.
type Info struct {
	Digest v1.Hash
	Size   int64
}

// Store holds blobs by digest. Implementations are safe for concurrent use,
// by goroutines and, for the disk store, by processes.
type Store interface {
	// Info reports a blob's size, or ErrNotFound.
	Info(ctx context.Context, d v1.Hash) (Info, error)
	// Open returns the blob's bytes. The reader verifies the digest as it is
	// read: at the end, bytes that do not match give a *CorruptError in
	// place of io.EOF.
	Open(ctx context.Context, d v1.Hash) (io.ReadCloser, error)
	// Writer starts a new blob. Nothing is visible until Commit.
	Writer(ctx context.Context) (Writer, error)
	// Delete removes a blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, d v1.Hash) error
	// Walk calls fn for every blob.
	Walk(ctx context.Context, fn func(Info) error) error
}

// Writer receives a blob's bytes.
type Writer interface {
	io.Writer
	// Digest is the digest of what has been written so far.
	Digest() v1.Hash
	// Size is the number of bytes written so far.
	Size() int64
	// Commit makes the blob visible under its digest. A non-zero expected
	// digest that does not match gives a *MismatchError and stores nothing.
	Commit(ctx context.Context, expected v1.Hash) (Info, error)
	// Close discards an uncommitted blob; after Commit it does nothing.
	Close() error
}

// Put stores everything r yields, refusing it unless it matches a non-zero
// expected digest.
func Put(ctx context.Context, s Store, r io.Reader, expected v1.Hash) (Info, error) {
	w, err := s.Writer(ctx)
	if err != nil {
		return Info{}, err
	}
	defer w.Close()
	if _, err := copyContext(ctx, w, r); err != nil {
		return Info{}, err
	}
	return w.Commit(ctx, expected)
}

// PutBytes stores b, or does nothing if the store already holds it (a
// rebuild rewrites the same manifests and configs: no fsync for them).
func PutBytes(ctx context.Context, s Store, b []byte) (Info, error) {
	sum := sha256.Sum256(b)
	d := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
	if info, err := s.Info(ctx, d); err == nil && info.Size == int64(len(b)) {
		return info, nil
	}
	w, err := s.Writer(ctx)
	if err != nil {
		return Info{}, err
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		return Info{}, err
	}
	return w.Commit(ctx, d)
}

// ReadAll reads a whole blob, verified. Meant for small blobs: manifests,
// configs, indexes.
func ReadAll(ctx context.Context, s Store, d v1.Hash) ([]byte, error) {
	rc, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Has reports whether the store holds d.
func Has(ctx context.Context, s Store, d v1.Hash) (bool, error) {
	_, err := s.Info(ctx, d)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// copyBuffers are copyContext's 1 MiB buffers, reused: a build stores
// several small blobs, and zeroing a fresh buffer for each showed.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyContext copies until EOF, stopping early when ctx is done.
func copyContext(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// digester hashes what passes through it.
type digester struct {
	h    hash.Hash
	size int64
}

func newDigester() digester { return digester{h: sha256.New()} }

func (d *digester) add(p []byte) {
	d.h.Write(p)
	d.size += int64(len(p))
}

func (d *digester) digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", d.h.Sum(nil))}
}

// verifier is the reader Open returns: it hashes as it reads and turns EOF
// into a *CorruptError if the bytes do not match. Past the first few
// megabytes it hashes on a goroutine of its own (asynchash), so that
// unpacking a large layer reads, hashes and extracts on different cores.
type verifier struct {
	rc    io.ReadCloser
	want  v1.Hash
	h     hash.Hash
	async *asynchash.Hash // once size passes asyncVerify
	size  int64
	err   error
}

// asyncVerify is how much of a blob is hashed in the reader's goroutine
// before the rest is hashed on another.
const asyncVerify = 4 << 20

// NewVerifier wraps rc so that reading it to the end checks it against want.
func NewVerifier(rc io.ReadCloser, want v1.Hash) io.ReadCloser {
	return &verifier{rc: rc, want: want, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	switch {
	case v.async != nil:
		v.async.Write(p[:n])
	case v.size+int64(n) > asyncVerify:
		v.async = asynchash.New(v.h, 1<<20, 4) // goes on from v.h's state
		v.async.Write(p[:n])
	default:
		v.h.Write(p[:n])
	}
	v.size += int64(n)
	if err == io.EOF {
		sum := v.h.Sum
		if v.async != nil {
			sum = v.async.Sum
		}
		if got := (v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum(nil))}); got != v.want {
			v.err = &CorruptError{Digest: v.want, Got: got}
			return n, v.err
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error {
	if v.async != nil {
		v.async.Close()
	}
	return v.rc.Close()
}
