package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
)

type counter = atomic.Int64

// Prepare unpacks every layer of img that is not unpacked yet (once, however
// many goroutines and processes ask at the same time) and returns the
// lower directories for overlayfs, topmost first. It holds the image store
// (image.Store.Use) while it reads blobs.
//
// The snapshots stay until Prune; a caller that mounts them must pass
// their chain IDs to Prune's keep for as long as the mount lives.
func (s *Store) Prepare(ctx context.Context, is *image.Store, img image.Image) ([]string, error) {
	if img.Manifest == nil {
		return nil, fmt.Errorf("prepare image %s: no manifest", img.Target.Digest)
	}
	done, err := is.Use(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare image %s: %w", img.ShortID(), err)
	}
	defer done()
	cf, _, err := is.ConfigFile(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("prepare image %s: %w", img.ShortID(), err)
	}
	lowers, err := s.PrepareLayers(ctx, is.Content(), img.Manifest.Layers, cf.RootFS.DiffIDs)
	if err != nil {
		return nil, fmt.Errorf("prepare image %s: %w", img.ShortID(), err)
	}
	return lowers, nil
}

// PrepareLayers is Prepare for layers given directly, bottom first, with
// their diff IDs (a build's parent chain): it unpacks those missing from
// cs and returns the lower directories, topmost first.
func (s *Store) PrepareLayers(ctx context.Context, cs content.Store, layers []v1.Descriptor, diffIDs []v1.Hash) ([]string, error) {
	if len(layers) != len(diffIDs) {
		return nil, fmt.Errorf("prepare layers: %d layers but %d diff IDs", len(layers), len(diffIDs))
	}
	unlock, err := lock(ctx, s.gcLock(), false)
	if err != nil {
		return nil, fmt.Errorf("prepare layers: %w", err)
	}
	defer unlock()
	chains := ChainIDs(diffIDs)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range layers {
		if s.Exists(chains[i]) {
			continue
		}
		g.Go(func() error { return s.ensure(gctx, cs, layers[i], diffIDs[i], chains[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	lowers := make([]string, len(chains))
	for i, c := range chains {
		lowers[len(chains)-1-i] = s.Path(c)
	}
	return lowers, nil
}

// ensure unpacks one layer as the snapshot chain unless it exists,
// holding the chain's lock so that only one process unpacks it.
func (s *Store) ensure(ctx context.Context, cs content.Store, desc v1.Descriptor, diffID, chain v1.Hash) error {
	unlock, err := lock(ctx, s.chainLock(chain), true)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	defer unlock()
	if s.Exists(chain) {
		return nil // another process unpacked it while we waited
	}
	if err := s.discardStale(chain); err != nil {
		return fmt.Errorf("unpack layer %s: snapshot %s was not flushed to disk: %w", desc.Digest, chain.Hex, err)
	}
	if err := s.removeTemps(chain); err != nil {
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), chain.Hex+"-")
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	if err := s.unpack(ctx, cs, desc, diffID, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	if err := s.publish(tmp, chain); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	s.unpacks.Add(1)
	return nil
}

// unpack extracts the layer desc into dir, checking the blob's digest and
// the diff ID of what it decompresses to.
func (s *Store) unpack(ctx context.Context, cs content.Store, desc v1.Descriptor, diffID v1.Hash, dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	blob, err := cs.Open(ctx, desc.Digest)
	if err != nil {
		return err
	}
	defer blob.Close()
	tr, comp, err := layer.Decompress(blob)
	if err != nil {
		return err
	}
	defer tr.Close()
	var r io.Reader = tr
	var h hash.Hash
	if comp != layer.None || desc.Digest != diffID {
		h = sha256.New()
		r = io.TeeReader(tr, h)
	}
	if _, err := layer.Apply(ctx, dir, r); err != nil {
		return err
	}
	// Drain the blob so its verifier reaches the end and checks the digest.
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return err
	}
	if h != nil {
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != diffID.Hex || diffID.Algorithm != "sha256" {
			return fmt.Errorf("diff ID is sha256:%s, the image config says %s", got, diffID)
		}
	}
	return nil
}

// publish makes the complete unpack tmp visible as the snapshot chain.
// Normally it marks the snapshot pending first and leaves writing it to
// disk to Flush; without a boot ID it syncs it before the rename.
func (s *Store) publish(tmp string, chain v1.Hash) error {
	switch {
	case s.NoSync:
	case s.deferSync():
		if err := s.markPending(chain); err != nil {
			return err
		}
	default:
		if err := syncfs(tmp); err != nil {
			return err
		}
	}
	final := s.Path(chain)
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return os.RemoveAll(tmp) // someone else's is as good
		}
		return err
	}
	if s.NoSync || s.deferSync() {
		return nil // the rename needs no flush: a lost rename leaves tmp/ to clean
	}
	return content.SyncDir(filepath.Dir(final))
}

// removeTemps removes what unpacks of chain killed before they finished
// left in tmp/. The caller holds the chain's lock.
func (s *Store) removeTemps(chain v1.Hash) error {
	matches, err := filepath.Glob(filepath.Join(s.dir, "tmp", chain.Hex+"-*"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			return err
		}
	}
	return nil
}

// syncfs flushes the file system holding dir to disk.
func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}
