// Package image keeps images: a content store of blobs plus an index of
// names pointing at manifests, with the operations Docker users know
// (list, look up by name or ID, tag, remove, prune).
package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/reference"
)

// ErrNotFound is returned when no image matches a name or ID.
var ErrNotFound = errors.New("no such image")

// NotFoundError names the image that was not found.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return "no such image: " + e.Name }

// Is makes errors.Is(err, ErrNotFound) work.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Store is an image store: blobs, names, and the lock that keeps pruning
// from removing what a writer in another process is still assembling.
type Store struct {
	content content.Store
	index   Index
	gc      rwLocker
	root    string // "" for a store in memory
	roots   []RootsFunc
}

// rwLocker is a shared/exclusive lock, across processes for a disk store.
type rwLocker interface {
	lock(ctx context.Context, exclusive bool) (unlock func(), err error)
}

// Open opens (creating if needed) the store in dir: an OCI image layout
// (oci-layout, index.json, blobs/sha256/) plus strata's lock files.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	layout := filepath.Join(dir, "oci-layout")
	if _, err := os.Stat(layout); err != nil {
		if err := content.WriteFileAtomic(layout, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	cs, err := content.NewDisk(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	ix, err := newDiskIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return &Store{content: cs, index: ix, gc: fileLock{filepath.Join(dir, "gc.lock")}, root: dir}, nil
}

// NewMemory returns an empty store in memory.
func NewMemory() *Store {
	return &Store{content: content.NewMemory(), index: &memoryIndex{}, gc: &memLock{}}
}

// New assembles a store from its parts, for tests of other implementations.
func New(cs content.Store, ix Index) *Store {
	return &Store{content: cs, index: ix, gc: &memLock{}}
}

// Content is the store's blob store.
func (s *Store) Content() content.Store { return s.content }

// Index is the store's name index.
func (s *Store) Index() Index { return s.index }

// Root is the store's directory, "" for a store in memory.
func (s *Store) Root() string { return s.root }

// Use marks the store as in use until done is called, so that Prune (in
// any process) waits rather than remove blobs a writer has stored but not
// yet named. Hold it from the first blob written until the name is set.
func (s *Store) Use(ctx context.Context) (done func(), err error) {
	done, err = s.gc.lock(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	return done, nil
}

// exclusive takes the store for the removal of blobs.
func (s *Store) exclusive(ctx context.Context) (done func(), err error) {
	done, err = s.gc.lock(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	return done, nil
}

func parseName(n string) (reference.Reference, error) { return reference.Parse(n) }

// fileLock is a flock(2) lock file. Each lock opens the file anew, so
// goroutines of one process exclude each other just as processes do.
type fileLock struct{ path string }

const lockRetry = 5 * time.Millisecond

func (l fileLock) lock(ctx context.Context, exclusive bool) (func(), error) {
	f := flock.New(l.path)
	var err error
	if exclusive {
		_, err = f.TryLockContext(ctx, lockRetry)
	} else {
		_, err = f.TryRLockContext(ctx, lockRetry)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

type memLock struct{ mu sync.RWMutex }

func (l *memLock) lock(ctx context.Context, exclusive bool) (func(), error) {
	if exclusive {
		l.mu.Lock()
		return l.mu.Unlock, nil
	}
	l.mu.RLock()
	return l.mu.RUnlock, nil
}
