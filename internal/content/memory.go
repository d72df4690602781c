package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Memory is a Store in memory, for tests and for throwaway work.
type Memory struct {
	mu    sync.RWMutex
	blobs map[v1.Hash][]byte
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{blobs: map[v1.Hash][]byte{}} }

// Info implements Store.
func (s *Memory) Info(ctx context.Context, d v1.Hash) (Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.blobs[d]
	if !ok {
		return Info{}, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return Info{Digest: d, Size: int64(len(b))}, nil
}

// Open implements Store.
func (s *Memory) Open(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return NewVerifier(io.NopCloser(bytes.NewReader(b)), d), nil
}

// Writer implements Store.
func (s *Memory) Writer(ctx context.Context) (Writer, error) {
	return &memoryWriter{s: s, d: newDigester()}, nil
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, d v1.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, d)
	return nil
}

// Walk implements Store.
func (s *Memory) Walk(ctx context.Context, fn func(Info) error) error {
	s.mu.RLock()
	infos := make([]Info, 0, len(s.blobs))
	for d, b := range s.blobs {
		infos = append(infos, Info{Digest: d, Size: int64(len(b))})
	}
	s.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Digest.Hex < infos[j].Digest.Hex })
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

// Corrupt overwrites a stored blob's bytes without changing its digest, so
// tests can check that corruption is detected.
func (s *Memory) Corrupt(d v1.Hash, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[d] = b
}

type memoryWriter struct {
	s    *Memory
	buf  bytes.Buffer
	d    digester
	done bool
}

func (w *memoryWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write to a closed blob")
	}
	w.d.add(p)
	return w.buf.Write(p)
}

func (w *memoryWriter) Digest() v1.Hash { return w.d.digest() }
func (w *memoryWriter) Size() int64     { return w.d.size }

func (w *memoryWriter) Commit(ctx context.Context, expected v1.Hash) (Info, error) {
	if w.done {
		return Info{}, errors.New("blob already committed")
	}
	w.done = true
	got := w.d.digest()
	if expected != (v1.Hash{}) && expected != got {
		return Info{}, &MismatchError{Expected: expected, Got: got}
	}
	w.s.mu.Lock()
	w.s.blobs[got] = bytes.Clone(w.buf.Bytes())
	w.s.mu.Unlock()
	return Info{Digest: got, Size: w.d.size}, nil
}

func (w *memoryWriter) Close() error {
	w.done = true
	return nil
}
