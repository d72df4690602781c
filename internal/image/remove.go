package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/reference"
)

// RootsFunc describes blobs that something other than the name index still
// needs (a container's image, the build cache), so removal keeps them and,
// for manifests and indexes, everything they reference.
type RootsFunc func(ctx context.Context) ([]v1.Descriptor, error)

// AddRoots registers more blobs that Remove and Prune must keep, with
// everything they reference.
func (s *Store) AddRoots(fn RootsFunc) { s.roots = append(s.roots, fn) }

// Removal reports what Remove or Prune did, in Docker's terms.
type Removal struct {
	// Untagged are the names removed, as Docker prints them.
	Untagged []string
	// Deleted are the IDs of images deleted, then the digests of the blobs
	// deleted with them.
	Deleted []v1.Hash
	// Reclaimed is the number of bytes freed.
	Reclaimed int64
}

// Remove does what `docker rmi` does. Given a name, it removes that name,
// and the image too if no other name points at it. Given an ID, it removes
// the image with all its names, which for an image with several names
// requires force.
func (s *Store) Remove(ctx context.Context, name string, force bool) (Removal, error) {
	img, matched, err := s.Resolve(ctx, name)
	if err != nil {
		return Removal{}, err
	}
	var untag []string
	if matched != "" && len(img.Names) > 1 && !force {
		untag = []string{matched}
	} else {
		if matched == "" && len(img.Names) > 1 && !force {
			return Removal{}, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in %d names", img.ShortID(), len(img.Names))
		}
		untag = img.Names
	}
	done, err := s.exclusive(ctx)
	if err != nil {
		return Removal{}, err
	}
	defer done()
	var res Removal
	deleteImage := len(untag) == len(img.Names)
	err = s.index.Update(ctx, func(recs []Record) ([]Record, error) {
		var out []Record
		for _, r := range recs {
			if r.Target.Digest == img.Target.Digest && (deleteImage || contains(untag, r.Name)) {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	})
	if err != nil {
		return Removal{}, fmt.Errorf("remove %s: %w", name, err)
	}
	for _, n := range untag {
		res.Untagged = append(res.Untagged, reference.Familiar(n))
	}
	if !deleteImage {
		return res, nil
	}
	res.Deleted = append(res.Deleted, img.ID)
	freed, n, err := s.collect(ctx, false)
	res.Deleted = appendNew(res.Deleted, freed)
	res.Reclaimed = n
	return res, err
}

// Prune removes dangling images, every blob that no name (or registered
// root) references, and writes that crashed processes left behind.
func (s *Store) Prune(ctx context.Context) (Removal, error) {
	done, err := s.exclusive(ctx)
	if err != nil {
		return Removal{}, err
	}
	defer done()
	var res Removal
	var dangling []Record
	err = s.index.Update(ctx, func(recs []Record) ([]Record, error) {
		var out []Record
		for _, r := range recs {
			if r.Name == "" {
				dangling = append(dangling, r)
				continue
			}
			out = append(out, r)
		}
		return out, nil
	})
	if err != nil {
		return Removal{}, fmt.Errorf("prune: %w", err)
	}
	for _, r := range dangling {
		if m, err := s.Manifest(ctx, r.Target); err == nil {
			res.Deleted = append(res.Deleted, m.Config.Digest)
		}
	}
	freed, n, err := s.collect(ctx, true)
	res.Deleted = appendNew(res.Deleted, freed)
	res.Reclaimed = n
	return res, err
}

// collect deletes every blob nothing references; the caller holds the
// store exclusively. With ingest it also clears abandoned writes.
func (s *Store) collect(ctx context.Context, ingest bool) ([]v1.Hash, int64, error) {
	live, err := s.live(ctx, false)
	if err != nil {
		return nil, 0, fmt.Errorf("find blobs in use: %w", err)
	}
	var deleted []v1.Hash
	var freed int64
	err = s.content.Walk(ctx, func(info content.Info) error {
		if live[info.Digest] {
			return nil
		}
		if err := s.content.Delete(ctx, info.Digest); err != nil {
			return err
		}
		deleted = append(deleted, info.Digest)
		freed += info.Size
		return nil
	})
	if err != nil {
		return deleted, freed, fmt.Errorf("delete blobs: %w", err)
	}
	if ingest && s.root != "" {
		// No writer holds the store, so every file in ingest is abandoned.
		entries, _ := os.ReadDir(filepath.Join(s.root, "ingest"))
		for _, e := range entries {
			p := filepath.Join(s.root, "ingest", e.Name())
			if fi, err := os.Lstat(p); err == nil {
				freed += fi.Size()
			}
			os.RemoveAll(p)
		}
	}
	return deleted, freed, nil
}

// Live is the set of blobs that named images (and registered roots) need:
// what Prune keeps.
func (s *Store) Live(ctx context.Context) (map[v1.Hash]bool, error) { return s.live(ctx, true) }

// live is the set of blobs that images and registered roots need; with
// namedOnly, dangling images do not count.
func (s *Store) live(ctx context.Context, namedOnly bool) (map[v1.Hash]bool, error) {
	recs, err := s.index.Records(ctx)
	if err != nil {
		return nil, err
	}
	live := map[v1.Hash]bool{}
	var roots []v1.Descriptor
	for _, r := range recs {
		if r.Name == "" && namedOnly {
			continue
		}
		roots = append(roots, r.Target)
	}
	for _, fn := range s.roots {
		more, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		roots = append(roots, more...)
	}
	for _, d := range roots {
		if err := s.mark(ctx, d, live); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// mark adds desc and, if it is a manifest or index, everything it
// references. A corrupt manifest stops the collection: deleting around it
// could lose what it names.
func (s *Store) mark(ctx context.Context, desc v1.Descriptor, live map[v1.Hash]bool) error {
	d := desc.Digest
	if live[d] {
		return nil
	}
	live[d] = true
	if !desc.MediaType.IsImage() && !desc.MediaType.IsIndex() {
		return nil
	}
	b, err := content.ReadAll(ctx, s.content, d)
	if errors.Is(err, content.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var doc struct {
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	if doc.Config != nil {
		live[doc.Config.Digest] = true
	}
	for _, l := range doc.Layers {
		live[l.Digest] = true
	}
	for _, m := range doc.Manifests {
		if err := s.mark(ctx, m, live); err != nil {
			return err
		}
	}
	return nil
}

// appendNew appends the digests not already listed (an image ID is also
// its config blob's digest).
func appendNew(list, more []v1.Hash) []v1.Hash {
	seen := map[v1.Hash]bool{}
	for _, d := range list {
		seen[d] = true
	}
	for _, d := range more {
		if !seen[d] {
			list = append(list, d)
		}
	}
	return list
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
