// Package asynchash runs a hash on a goroutine of its own.
//
// Writing a layer computes several SHA-256 digests of the same bytes: the
// context file's (for the build cache key), the layer tar's (its diff ID)
// and the compressed blob's (its digest). One SHA-256 stream runs at about
// 1 GB/s on this project's machines, so computed in turn on one goroutine
// they, not the disk, bound a large COPY. A Hash copies what it is given
// into one of a few buffers and hashes it in the background, so the
// digests spread over the cores.
package asynchash

import (
	"hash"
	"sync"
)

// Hash hashes what is written to it on a goroutine of its own. Write
// blocks only while all its buffers wait to be hashed. Sum or Close ends
// the goroutine; one of them must be called.
type Hash struct {
	h    hash.Hash
	work chan []byte
	free chan []byte
	done chan struct{}
	once sync.Once
}

// New starts hashing with h, with depth buffers of size bytes each.
func New(h hash.Hash, size, depth int) *Hash {
	a := &Hash{
		h:    h,
		work: make(chan []byte, depth),
		free: make(chan []byte, depth),
		done: make(chan struct{}),
	}
	for range depth {
		a.free <- make([]byte, 0, size)
	}
	go func() {
		defer close(a.done)
		for b := range a.work {
			a.h.Write(b)
			a.free <- b[:0]
		}
	}()
	return a
}

// Write queues a copy of p to be hashed. It never fails.
func (a *Hash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		b := <-a.free
		k := min(len(p), cap(b))
		a.work <- append(b, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// Sum waits for everything written to be hashed and appends the sum to b.
// Nothing may be written after it.
func (a *Hash) Sum(b []byte) []byte {
	a.Close()
	return a.h.Sum(b)
}

// Close ends the hashing goroutine once it has hashed what was written.
// It is safe to call more than once, and after Sum.
func (a *Hash) Close() {
	a.once.Do(func() { close(a.work) })
	<-a.done
}
