// Package snapshot keeps image layers unpacked on disk for containers and
// builds: each layer once, in a read-only directory named by its chain ID,
// shared by every container and build that uses it, stacked with overlayfs
// under a writable upper directory of the container's own.
//
// On disk, under the image store's root:
//
//	snapshots/
//	  sha256/CHAINHEX/   one layer's files, whiteouts in overlayfs form
//	  tmp/CHAINHEX-*     unpacks in progress (and leftovers of killed ones)
//	  locks/CHAINHEX     flock(2): one process unpacks a layer at a time
//	  pending/CHAINHEX   the boot that unpacked a snapshot not yet flushed to disk
//	  gc.lock            shared while preparing, exclusive while pruning
//
// The one Flush running holds a flock(2) on snapshots/ itself.
//
// A snapshot is unpacked into tmp/ and renamed into sha256/ when complete,
// so a process killed mid-unpack never leaves a partial snapshot visible.
// It is flushed to disk later, by Flush; until then a pending mark tells a
// later boot not to trust it (see durable.go).
// Snapshots depend on nothing but their layer: containers keep their own
// upper directories elsewhere.
package snapshot

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Store keeps each layer unpacked once, in a directory keyed by its chain
// ID, shared by every container and build.
type Store struct {
	dir string // root/snapshots
	// NoSync never flushes snapshots to disk, nor marks them pending: an
	// unpack is still safe against a killed process, but not against a
	// crash of the machine soon after. For tests.
	NoSync bool
	// bootID is this boot's ID; without one, each snapshot is flushed
	// (syncfs) before it becomes visible.
	bootID string
	// unpacks counts the layers this Store unpacked, for tests.
	unpacks counter
}

// Open opens (creating if needed) the snapshot store of the image store
// whose root is root; its data lives in root/snapshots.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("open snapshots: the image store has no root directory")
	}
	dir := filepath.Join(root, "snapshots")
	for _, d := range []string{dir, filepath.Join(dir, "sha256"), filepath.Join(dir, "tmp"), filepath.Join(dir, "locks"), filepath.Join(dir, "pending")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open snapshots: %w", err)
		}
	}
	return &Store{dir: dir, bootID: readBootID()}, nil
}

// Unpacked is how many layers this Store has unpacked.
func (s *Store) Unpacked() int64 { return s.unpacks.Load() }

// Dir is the directory of the snapshot store (root/snapshots).
func (s *Store) Dir() string { return s.dir }

// Path is where the snapshot of the layer stack with this chain ID lives
// (whether or not it has been unpacked).
func (s *Store) Path(chain v1.Hash) string {
	return filepath.Join(s.dir, "sha256", chain.Hex)
}

// Exists says whether the snapshot for chain is unpacked and sound: not
// unpacked in an earlier boot that may have crashed before flushing it.
// If that cannot be told, it says no, and Prepare reports why.
func (s *Store) Exists(chain v1.Hash) bool {
	if _, err := os.Lstat(s.Path(chain)); err != nil {
		return false
	}
	stale, err := s.stale(chain)
	return err == nil && !stale
}

// ChainIDs returns the OCI chain ID of each layer of a stack given its diff
// IDs, bottom first: ChainID(L1) = DiffID(L1), ChainID(Ln) =
// sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum[:])}
	}
	return out
}

// lockRetry is how often a waiting lock polls.
const lockRetry = 10 * time.Millisecond

// lock takes the flock(2) lock file at path, exclusive or shared, waiting
// as long as ctx allows.
func lock(ctx context.Context, path string, exclusive bool) (func(), error) {
	f := flock.New(path)
	var err error
	if exclusive {
		_, err = f.TryLockContext(ctx, lockRetry)
	} else {
		_, err = f.TryRLockContext(ctx, lockRetry)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// tryLock takes the exclusive lock at path if nobody holds it.
func tryLock(path string) (func(), bool, error) {
	f := flock.New(path)
	ok, err := f.TryLock()
	if err != nil || !ok {
		f.Close()
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}

func (s *Store) chainLock(chain v1.Hash) string {
	return filepath.Join(s.dir, "locks", chain.Hex)
}

func (s *Store) gcLock() string { return filepath.Join(s.dir, "gc.lock") }
