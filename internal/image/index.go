package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
)

// Record is one entry of the name index: a name and the manifest it points
// to. An image whose names have all moved on stays as a record without a
// name (Docker's "<none>" image) until it is removed or pruned.
type Record struct {
	// Name is the canonical "repository:tag", empty for a dangling image.
	Name string
	// Target describes the image's manifest (or index).
	Target v1.Descriptor
	// Updated is when the name was last set (Docker's LastTagTime).
	Updated time.Time
}

// Index maps names to manifest descriptors.
type Index interface {
	// Records lists every record.
	Records(ctx context.Context) ([]Record, error)
	// Update replaces the records with what fn returns, atomically with
	// respect to every other Update, in this process and in others.
	Update(ctx context.Context, fn func([]Record) ([]Record, error)) error
}

// Annotations under which the disk index keeps a record's fields, as
// Docker 25+ and containerd write them in OCI layouts.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationUpdated   = "io.strata.updated"
)

// diskIndex is an Index kept as an OCI image index, DIR/index.json, so the
// store is an OCI image layout a person (or skopeo) can read. Updates are
// serialised by a lock file and written atomically.
type diskIndex struct {
	path string
	lock fileLock
}

func newDiskIndex(dir string) (*diskIndex, error) {
	ix := &diskIndex{path: filepath.Join(dir, "index.json"), lock: fileLock{filepath.Join(dir, "index.lock")}}
	if _, err := os.Stat(ix.path); errors.Is(err, fs.ErrNotExist) {
		if err := ix.write(nil); err != nil {
			return nil, fmt.Errorf("create %s: %w", ix.path, err)
		}
	}
	return ix, nil
}

func (ix *diskIndex) Records(ctx context.Context) ([]Record, error) {
	b, err := content.ReadFile(ix.path)
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("read image index %s: %w", ix.path, err)
	}
	recs := make([]Record, 0, len(idx.Manifests))
	for _, d := range idx.Manifests {
		r := Record{Name: d.Annotations[annotationImageName]}
		if t := d.Annotations[annotationUpdated]; t != "" {
			r.Updated, _ = time.Parse(time.RFC3339Nano, t)
		}
		d.Annotations = withoutKeys(d.Annotations, annotationImageName, annotationRefName, annotationUpdated)
		r.Target = d
		recs = append(recs, r)
	}
	return recs, nil
}

func (ix *diskIndex) Update(ctx context.Context, fn func([]Record) ([]Record, error)) error {
	unlock, err := ix.lock.lock(ctx, true)
	if err != nil {
		return fmt.Errorf("lock image index: %w", err)
	}
	defer unlock()
	recs, err := ix.Records(ctx)
	if err != nil {
		return err
	}
	recs, err = fn(recs)
	if err != nil {
		return err
	}
	return ix.write(recs)
}

func (ix *diskIndex) write(recs []Record) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	for _, r := range sortRecords(recs) {
		d := r.Target
		ann := map[string]string{}
		for k, v := range d.Annotations {
			ann[k] = v
		}
		if r.Name != "" {
			ann[annotationImageName] = r.Name
			if ref, err := parseName(r.Name); err == nil {
				ann[annotationRefName] = ref.Tag
			}
		}
		if !r.Updated.IsZero() {
			ann[annotationUpdated] = r.Updated.UTC().Format(time.RFC3339Nano)
		}
		d.Annotations = ann
		idx.Manifests = append(idx.Manifests, d)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(idx); err != nil {
		return err
	}
	return content.WriteFileAtomic(ix.path, buf.Bytes(), 0o644)
}

// sortRecords orders records by name, dangling ones last by digest, so the
// index file is stable.
func sortRecords(recs []Record) []Record {
	out := append([]Record(nil), recs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Name == "") != (b.Name == "") {
			return a.Name != ""
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Target.Digest.Hex < b.Target.Digest.Hex
	})
	return out
}

func withoutKeys(m map[string]string, keys ...string) map[string]string {
	for _, k := range keys {
		delete(m, k)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// memoryIndex is an Index in memory.
type memoryIndex struct {
	mu   sync.Mutex
	recs []Record
}

func (ix *memoryIndex) Records(ctx context.Context) ([]Record, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return append([]Record(nil), ix.recs...), nil
}

func (ix *memoryIndex) Update(ctx context.Context, fn func([]Record) ([]Record, error)) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	recs, err := fn(append([]Record(nil), ix.recs...))
	if err != nil {
		return err
	}
	ix.recs = sortRecords(recs)
	return nil
}
