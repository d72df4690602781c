package image

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
)

// V1 returns img as a go-containerregistry image whose config, manifest and
// layers are read lazily from the store and verified as they are read, so
// ggcr's writers (registries, tarballs) can consume it.
func (s *Store) V1(ctx context.Context, img Image) (v1.Image, error) {
	raw, err := content.ReadAll(ctx, s.content, img.Target.Digest)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return partial.CompressedToImage(&storeImage{ctx: ctx, s: s, desc: img.Target, manifest: raw, m: img.Manifest})
}

type storeImage struct {
	ctx      context.Context
	s        *Store
	desc     v1.Descriptor
	manifest []byte
	m        *v1.Manifest
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) RawConfigFile() ([]byte, error) {
	return content.ReadAll(i.ctx, i.s.content, i.m.Config.Digest)
}

func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.m.MediaType != "" {
		return i.m.MediaType, nil
	}
	return i.desc.MediaType, nil
}

func (i *storeImage) RawManifest() ([]byte, error) { return i.manifest, nil }

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &storeBlob{i: i, desc: i.m.Config}, nil
	}
	for _, l := range i.m.Layers {
		if l.Digest == h {
			return &storeBlob{i: i, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("image %s has no blob %s", i.desc.Digest, h)
}

type storeBlob struct {
	i    *storeImage
	desc v1.Descriptor
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storeBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	return b.i.s.content.Open(b.i.ctx, b.desc.Digest)
}
