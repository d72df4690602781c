package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/reference"
)

// Image is one image the store holds: a manifest, the names pointing at
// it, and what its manifest and config say.
type Image struct {
	// Target describes the manifest.
	Target v1.Descriptor
	// Names are the canonical names pointing at it, sorted; none for a
	// dangling image.
	Names []string
	// Updated is when a name last moved to it.
	Updated time.Time
	// Manifest is the parsed manifest.
	Manifest *v1.Manifest
	// ID is the image ID: the digest of its config, as Docker reports it.
	ID v1.Hash
}

// ShortID is the 12-hex-digit image ID Docker prints by default.
func (img Image) ShortID() string { return ShortID(img.ID) }

// ShortID shortens a digest to the 12 hex digits Docker prints.
func ShortID(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.Hex
	}
	return h.Hex[:12]
}

// Size is what the image's blobs occupy in the store: config plus layers.
func (img Image) Size() int64 {
	n := img.Manifest.Config.Size
	for _, l := range img.Manifest.Layers {
		n += l.Size
	}
	return n
}

// RepoDigests are "repository@digest" for each repository naming the image.
func (img Image) RepoDigests() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range img.Names {
		r, err := reference.Parse(n)
		if err != nil || seen[r.Repository] {
			continue
		}
		seen[r.Repository] = true
		out = append(out, r.Repository+"@"+img.Target.Digest.String())
	}
	return out
}

// List returns every image, each once however many names it has, newest
// name first. Images whose manifests cannot be read are left out and
// reported together in the error, beside the rest.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	recs, err := s.index.Records(ctx)
	if err != nil {
		return nil, err
	}
	return s.group(ctx, recs)
}

// group folds records into images, reading each manifest once.
func (s *Store) group(ctx context.Context, recs []Record) ([]Image, error) {
	byDigest := map[v1.Hash]*Image{}
	var order []v1.Hash
	for _, r := range recs {
		img, ok := byDigest[r.Target.Digest]
		if !ok {
			img = &Image{Target: r.Target}
			byDigest[r.Target.Digest] = img
			order = append(order, r.Target.Digest)
		}
		if r.Name != "" {
			img.Names = append(img.Names, r.Name)
		}
		if r.Updated.After(img.Updated) {
			img.Updated = r.Updated
		}
	}
	out := make([]Image, 0, len(order))
	var errs []error
	for _, d := range order {
		img := byDigest[d]
		m, err := s.Manifest(ctx, img.Target)
		if err != nil {
			label := d.String()
			if len(img.Names) > 0 {
				label = reference.Familiar(img.Names[0])
			}
			errs = append(errs, fmt.Errorf("image %s: %w", label, err))
			continue
		}
		img.Manifest = m
		img.ID = m.Config.Digest
		sort.Strings(img.Names)
		out = append(out, *img)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, errors.Join(errs...)
}

// Manifest reads and parses the manifest desc describes.
func (s *Store) Manifest(ctx context.Context, desc v1.Descriptor) (*v1.Manifest, error) {
	b, err := content.ReadAll(ctx, s.content, desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
	}
	if m.Config.Digest.Hex == "" {
		return nil, fmt.Errorf("manifest %s: not an image manifest (no config)", desc.Digest)
	}
	return &m, nil
}

// ConfigFile reads and parses an image's config.
func (s *Store) ConfigFile(ctx context.Context, img Image) (*v1.ConfigFile, []byte, error) {
	b, err := content.ReadAll(ctx, s.content, img.Manifest.Config.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, nil, fmt.Errorf("parse config %s: %w", img.Manifest.Config.Digest, err)
	}
	return &cf, b, nil
}

// idPrefix matches what may be an image ID or a prefix of one.
var idPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(sha256:)?[0-9a-f]{1,64}$`) })

// Lookup finds the image s names, as Docker does: a name (with tag or
// digest) first, then an image ID or a unique prefix of one.
func (s *Store) Lookup(ctx context.Context, name string) (Image, error) {
	img, _, err := s.Resolve(ctx, name)
	return img, err
}

// Resolve is Lookup that also says which name matched: the canonical name
// if name was one, "" if it was an ID.
func (s *Store) Resolve(ctx context.Context, name string) (Image, string, error) {
	recs, err := s.index.Records(ctx)
	if err != nil {
		return Image{}, "", err
	}
	if ref, err := reference.Parse(name); err == nil {
		var hits []Record
		for _, r := range recs {
			if ref.Digest != "" {
				if r.Target.Digest.String() == ref.Digest && r.Name != "" && strings.HasPrefix(r.Name, ref.Repository+":") {
					hits = append(hits, r)
				}
			} else if r.Name == ref.Name() {
				hits = append(hits, r)
			}
		}
		if len(hits) > 0 {
			imgs, err := s.group(ctx, matching(recs, hits[0].Target.Digest))
			if err != nil {
				return Image{}, "", err
			}
			return imgs[0], hits[0].Name, nil
		}
	}
	if idPrefix().MatchString(name) {
		hex := strings.TrimPrefix(name, "sha256:")
		imgs, listErr := s.List(ctx)
		var found []Image
		for _, img := range imgs {
			if strings.HasPrefix(img.ID.Hex, hex) {
				found = append(found, img)
			}
		}
		switch {
		case len(found) == 1, len(found) > 1 && allSameID(found):
			return found[0], "", nil
		case len(found) > 1:
			return Image{}, "", fmt.Errorf("image ID prefix %q is ambiguous: it matches %d images", name, len(found))
		case listErr != nil:
			return Image{}, "", listErr
		}
	}
	return Image{}, "", &NotFoundError{Name: name}
}

func matching(recs []Record, d v1.Hash) []Record {
	var out []Record
	for _, r := range recs {
		if r.Target.Digest == d {
			out = append(out, r)
		}
	}
	return out
}

func allSameID(imgs []Image) bool {
	for _, img := range imgs[1:] {
		if img.ID != imgs[0].ID {
			return false
		}
	}
	return true
}
