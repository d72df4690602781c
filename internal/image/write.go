package image

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/reference"
)

// WriteManifest stores an image's config and an OCI manifest over the
// given (already stored) layers, and returns the manifest's descriptor.
// The layers must be in the store: a manifest never names a missing blob.
func (s *Store) WriteManifest(ctx context.Context, config []byte, layers []v1.Descriptor) (v1.Descriptor, error) {
	for _, l := range layers {
		if ok, err := content.Has(ctx, s.content, l.Digest); err != nil || !ok {
			return v1.Descriptor{}, fmt.Errorf("write manifest: layer %s is not in the store", l.Digest)
		}
	}
	ci, err := content.PutBytes(ctx, s.content, config)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("write config: %w", err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: ci.Digest, Size: ci.Size},
		Layers:        layers,
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	mi, err := content.PutBytes(ctx, s.content, b)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("write manifest: %w", err)
	}
	return v1.Descriptor{MediaType: m.MediaType, Digest: mi.Digest, Size: mi.Size}, nil
}

// Tag points name at target. An image the name pointed to before, left
// with no name, stays in the store as a dangling ("<none>") image.
func (s *Store) Tag(ctx context.Context, name reference.Reference, target v1.Descriptor) error {
	if name.Digest != "" {
		return fmt.Errorf("tag %s: a name to tag cannot pin a digest", name)
	}
	key := name.Name()
	now := time.Now().UTC()
	if recs, err := s.index.Records(ctx); err == nil {
		for _, r := range recs {
			if r.Name == key && r.Target.Digest == target.Digest {
				return nil // already so: leave the index (and its fsync) alone
			}
		}
	}
	return s.index.Update(ctx, func(recs []Record) ([]Record, error) {
		var out []Record
		var previous *Record
		for i, r := range recs {
			switch {
			case r.Name == key:
				previous = &recs[i]
			case r.Name == "" && r.Target.Digest == target.Digest:
				// A dangling record of the target is superseded by the name.
			default:
				out = append(out, r)
			}
		}
		out = append(out, Record{Name: key, Target: target, Updated: now})
		if previous != nil && previous.Target.Digest != target.Digest && !referenced(out, previous.Target.Digest) {
			out = append(out, Record{Target: previous.Target, Updated: previous.Updated})
		}
		return out, nil
	})
}

// AddDangling records target with no name (an image loaded without one),
// unless some record already points at it.
func (s *Store) AddDangling(ctx context.Context, target v1.Descriptor) error {
	return s.index.Update(ctx, func(recs []Record) ([]Record, error) {
		if referenced(recs, target.Digest) {
			return recs, nil
		}
		return append(recs, Record{Target: target, Updated: time.Now().UTC()}), nil
	})
}

func referenced(recs []Record, d v1.Hash) bool {
	for _, r := range recs {
		if r.Target.Digest == d {
			return true
		}
	}
	return false
}
