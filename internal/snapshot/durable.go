package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/content"
)

// This file keeps snapshots safe against a crash of the machine without
// making a first run wait for the disk.
//
// A snapshot becomes visible as soon as its files are complete in the page
// cache: every process on the machine then sees the same files, and a
// killed process loses nothing. Only a crash or power loss could lose what
// the kernel had not yet written back, and that ends the boot. So before a
// snapshot becomes visible it is marked pending, durably, with the ID of
// the boot that unpacked it (pending/CHAINHEX); Flush later writes the file
// system back (syncfs) and removes the marks it covered. A snapshot that
// another boot marked may have lost files: it counts as missing, and the
// next Prepare unpacks it again.
//
// Writing back a freshly unpacked gigabyte takes as long as unpacking it
// did, so this halves the wait for a new image's first container.

// bootIDFile holds a random ID the kernel draws at every boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// readBootID returns this boot's ID, or "" if the kernel does not say.
func readBootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

func (s *Store) pendingDir() string { return filepath.Join(s.dir, "pending") }

func (s *Store) pendingPath(chain v1.Hash) string {
	return filepath.Join(s.pendingDir(), chain.Hex)
}

// deferSync says whether snapshots are published before they are on disk
// (marked pending) rather than after a syncfs: whenever the boot is known.
func (s *Store) deferSync() bool { return s.bootID != "" }

// markPending durably records that chain's snapshot was unpacked in this
// boot and may not be on disk yet.
func (s *Store) markPending(chain v1.Hash) error {
	if err := content.WriteFileAtomic(s.pendingPath(chain), []byte(s.bootID+"\n"), 0o600); err != nil {
		return fmt.Errorf("mark pending: %w", err)
	}
	return nil
}

// errNoBootID is why a pending snapshot cannot be judged: without this
// boot's ID there is no telling whether it was unpacked before a crash.
var errNoBootID = errors.New("the kernel gives no boot ID (" + bootIDFile + "), so there is no telling whether it was unpacked before the last reboot")

// stale says whether chain's snapshot was unpacked in another boot and
// never flushed, so that a crash may have cost it files. Only a mark that
// names another boot makes it stale; a mark that cannot be read, or a
// process that cannot read the boot's ID, is an error: a snapshot that
// may be in use is never thrown away on a guess.
func (s *Store) stale(chain v1.Hash) (bool, error) {
	b, err := os.ReadFile(s.pendingPath(chain))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read pending mark: %w", err)
	}
	if s.bootID == "" {
		return false, errNoBootID
	}
	return string(bytes.TrimSpace(b)) != s.bootID, nil
}

// discardStale removes chain's snapshot, and then its mark, if it is
// stale; an error leaves both. The caller holds the chain's lock.
func (s *Store) discardStale(chain v1.Hash) error {
	stale, err := s.stale(chain)
	if err != nil || !stale {
		return err
	}
	if _, err := os.Lstat(s.Path(chain)); err == nil {
		_, err := s.removeLocked(chain, s.Path(chain), true)
		return err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(s.pendingPath(chain)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// mark is a pending mark as Flush found it.
type mark struct {
	chain v1.Hash
	info  fs.FileInfo
}

// marks returns this boot's pending marks.
func (s *Store) marks() ([]mark, error) {
	ents, err := os.ReadDir(s.pendingDir())
	if err != nil {
		return nil, err
	}
	var out []mark
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") { // WriteFileAtomic's temporary files
			continue
		}
		chain := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if stale, err := s.stale(chain); err != nil || stale {
			continue // another boot's: the next Prepare of chain unpacks it again
		}
		info, err := os.Lstat(s.pendingPath(chain))
		if err != nil {
			continue
		}
		out = append(out, mark{chain, info})
	}
	return out, nil
}

// Pending says whether any snapshot unpacked in this boot may not be on
// disk yet: Flush has work to do.
func (s *Store) Pending() bool {
	m, err := s.marks()
	return err == nil && len(m) > 0
}

// Flush writes every snapshot unpacked in this boot to disk and removes
// their pending marks. Marks made while it runs stay for the next Flush.
// Only one Flush runs at a time (among all processes): it holds a
// flock(2) on snapshots/ itself. It creates nothing in the store, so that
// it never races with the removal of a whole store.
//
// At most one Flush waits while another runs: a Flush that finds one
// waiting returns at once, since the waiting one lists the marks only
// once it runs, and so covers this one's.
func (s *Store) Flush(ctx context.Context) error {
	unwait, ok := tryLockExisting(s.pendingDir())
	if !ok {
		return nil
	}
	unlock, err := lockDir(ctx, s.dir)
	unwait()
	if err != nil {
		return fmt.Errorf("flush snapshots: %w", err)
	}
	defer unlock()
	marks, err := s.marks()
	if err != nil {
		return fmt.Errorf("flush snapshots: %w", err)
	}
	if len(marks) == 0 {
		return nil
	}
	if err := syncfs(s.dir); err != nil {
		return fmt.Errorf("flush snapshots: %w", err)
	}
	for _, m := range marks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.clear(m); err != nil {
			return fmt.Errorf("flush snapshots: %w", err)
		}
	}
	return nil
}

// clear removes the mark m unless it changed since Flush found it (the
// snapshot was removed and unpacked again meanwhile, and the new mark is
// not covered). Holding the chain's lock keeps a new mark from landing
// between the check and the removal; a chain being unpacked is skipped.
func (s *Store) clear(m mark) error {
	unlock, ok := tryLockExisting(s.chainLock(m.chain))
	if !ok {
		return nil
	}
	defer unlock()
	now, err := os.Lstat(s.pendingPath(m.chain))
	if err != nil || !os.SameFile(now, m.info) || !now.ModTime().Equal(m.info.ModTime()) {
		return nil
	}
	if err := os.Remove(s.pendingPath(m.chain)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// pruneMarks removes the marks of snapshots that no longer exist (an
// unpack killed between its mark and its rename, or a removed snapshot),
// unless their chain is being unpacked. The caller holds the GC lock.
func (s *Store) pruneMarks() error {
	ents, err := os.ReadDir(s.pendingDir())
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			// A mark being written, or one a killed process left half done.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				os.Remove(filepath.Join(s.pendingDir(), name))
			}
			continue
		}
		chain := v1.Hash{Algorithm: "sha256", Hex: name}
		if _, err := os.Lstat(s.Path(chain)); err == nil {
			continue
		}
		unlock, ok, err := tryLock(s.chainLock(chain))
		if err != nil || !ok {
			continue
		}
		if _, err := os.Lstat(s.Path(chain)); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(s.pendingPath(chain)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		unlock()
	}
	return errors.Join(errs...)
}

// lockDir takes an exclusive flock(2) on the directory dir itself, waiting
// as long as ctx allows.
func lockDir(ctx context.Context, dir string) (func(), error) {
	for {
		if unlock, ok := tryLockExisting(dir); ok {
			return unlock, nil
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", dir, ctx.Err())
		case <-time.After(lockRetry):
		}
	}
}

// tryLockExisting is tryLock for a lock file (or directory) that must
// already exist: it never creates one. ok is false if it is missing or
// locked.
func tryLockExisting(path string) (unlock func(), ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	// (O_RDONLY opens directories too; flock works on any descriptor.)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		unix.Close(fd)
		return nil, false
	}
	return func() { unix.Close(fd) }, true
}

// OpenExisting opens the snapshot store of the image store at root if it
// exists, creating nothing; it fails with an error matching
// fs.ErrNotExist if it does not.
func OpenExisting(root string) (*Store, error) {
	dir := filepath.Join(root, "snapshots")
	if _, err := os.Stat(filepath.Join(dir, "pending")); err != nil {
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	return &Store{dir: dir, bootID: readBootID()}, nil
}
