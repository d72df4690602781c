package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/image"
)

// Prune removes the snapshots that no image in is uses and that keep (the
// chain IDs of what containers and builds still have mounted) does not
// name, and what killed unpacks left behind; it returns the bytes freed.
// Snapshots being unpacked are left alone. If any image cannot be read,
// nothing is removed.
func (s *Store) Prune(ctx context.Context, is *image.Store, keep []v1.Hash) (int64, error) {
	unlock, err := lock(ctx, s.gcLock(), true)
	if err != nil {
		return 0, fmt.Errorf("prune snapshots: %w", err)
	}
	defer unlock()
	live, err := liveChains(ctx, is, keep)
	if err != nil {
		return 0, fmt.Errorf("prune snapshots: %w", err)
	}
	var freed int64
	var errs []error
	entries, err := os.ReadDir(filepath.Join(s.dir, "sha256"))
	if err != nil {
		return 0, fmt.Errorf("prune snapshots: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return freed, err
		}
		chain := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if live[chain] {
			continue
		}
		n, err := s.remove(chain, s.Path(chain), true)
		freed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", chain, err))
		}
	}
	temps, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return freed, fmt.Errorf("prune snapshots: %w", err)
	}
	for _, e := range temps {
		hex, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		n, err := s.remove(v1.Hash{Algorithm: "sha256", Hex: hex}, filepath.Join(s.dir, "tmp", e.Name()), false)
		freed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", e.Name(), err))
		}
	}
	if err := s.pruneMarks(); err != nil {
		errs = append(errs, fmt.Errorf("remove pending marks: %w", err))
	}
	return freed, errors.Join(errs...)
}

// liveChains are the chain IDs of every layer of every image in is, and keep.
func liveChains(ctx context.Context, is *image.Store, keep []v1.Hash) (map[v1.Hash]bool, error) {
	live := map[v1.Hash]bool{}
	for _, k := range keep {
		live[k] = true
	}
	imgs, err := is.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		cf, _, err := is.ConfigFile(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.ShortID(), err)
		}
		for _, c := range ChainIDs(cf.RootFS.DiffIDs) {
			live[c] = true
		}
	}
	return live, nil
}

// remove deletes dir, a snapshot (or leftover unpack) of chain, unless an
// unpack of chain holds its lock. It returns the bytes freed.
func (s *Store) remove(chain v1.Hash, dir string, snapshot bool) (int64, error) {
	unlock, ok, err := tryLock(s.chainLock(chain))
	if err != nil || !ok {
		return 0, err
	}
	defer unlock()
	n, err := s.removeLocked(chain, dir, snapshot)
	if err == nil && snapshot {
		os.Remove(s.chainLock(chain))
	}
	return n, err
}

// removeLocked is remove for a caller that holds chain's lock. A snapshot
// is first renamed into tmp/, so that it disappears at once, and its
// pending mark goes last: a mark gone before its snapshot would make a
// snapshot that lost files in a crash look sound.
func (s *Store) removeLocked(chain v1.Hash, dir string, snapshot bool) (int64, error) {
	if snapshot {
		tmp := filepath.Join(s.dir, "tmp", chain.Hex+"-removing")
		if err := os.RemoveAll(tmp); err != nil {
			return 0, err
		}
		if err := os.Rename(dir, tmp); err != nil {
			return 0, err
		}
		dir = tmp
	}
	n := diskUsage(dir)
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if snapshot {
		if err := os.Remove(s.pendingPath(chain)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
	}
	return n, nil
}

// diskUsage is what the files under dir occupy on disk, each inode once.
func diskUsage(dir string) int64 {
	var total int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || seen[st.Ino] {
			return nil
		}
		if st.Nlink > 1 {
			seen[st.Ino] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}
