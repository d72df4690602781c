// Package registry moves images between the store and OCI registries
// (Docker Hub, ECR, the CNCF distribution server) with go-containerregistry's
// client, credentials from the Docker config (~/.docker/config.json).
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// Event reports a pull's progress, layer by layer.
type Event struct {
	// Layer is the blob's digest; Status is "exists", "pulling" or "done".
	Layer  v1.Hash
	Status string
	// Size is the blob's size in bytes.
	Size int64
}

// Options adjust a pull.
type Options struct {
	// Progress, if set, hears about each layer.
	Progress func(Event)
	// Bytes, if set, is told of the bytes received as they arrive.
	Bytes func(int64)
	// Transport options for tests (and registries that need them).
	Remote []remote.Option
}

// Pull copies the image ref names, for this machine's platform, into the
// store, verifying every blob's digest, and returns its manifest's
// descriptor. Blobs the store holds already are not fetched. The caller
// names the image and holds the store (image.Store.Use).
func Pull(ctx context.Context, s *image.Store, ref reference.Reference, opts Options) (v1.Descriptor, error) {
	r, err := name.ParseReference(ref.String())
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.FamiliarString(), err)
	}
	ropts := append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
		remote.WithUserAgent("strata"),
	}, opts.Remote...)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.FamiliarString(), err)
	}
	img, err := desc.Image() // an index resolves to this platform's image
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.FamiliarString(), err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: manifest: %w", ref.FamiliarString(), err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.FamiliarString(), err)
	}
	for _, l := range layers {
		if err := pullLayer(ctx, s.Content(), l, opts); err != nil {
			return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.FamiliarString(), err)
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: config: %w", ref.FamiliarString(), err)
	}
	for _, blob := range []struct {
		b []byte
		d v1.Hash
	}{{cfg, cfgName}, {raw, digest}} {
		info, err := content.PutBytes(ctx, s.Content(), blob.b)
		if err != nil {
			return v1.Descriptor{}, err
		}
		if info.Digest != blob.d {
			return v1.Descriptor{}, fmt.Errorf("pull %s: the registry sent %s for %s", ref.FamiliarString(), info.Digest, blob.d)
		}
	}
	return v1.Descriptor{MediaType: mt, Digest: digest, Size: int64(len(raw))}, nil
}

// pullLayer streams one layer blob into the store, refusing bytes that do
// not match its digest.
func pullLayer(ctx context.Context, cs content.Store, l v1.Layer, opts Options) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	size, _ := l.Size()
	report := func(status string) {
		if opts.Progress != nil {
			opts.Progress(Event{Layer: d, Status: status, Size: size})
		}
	}
	if info, err := cs.Info(ctx, d); err == nil && (size == 0 || info.Size == size) {
		report("exists")
		return nil
	} else if err != nil && !errors.Is(err, content.ErrNotFound) {
		return err
	}
	report("pulling")
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if opts.Bytes != nil {
		r = &counting{r: rc, add: opts.Bytes}
	}
	if _, err := content.Put(ctx, cs, r, d); err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	report("done")
	return nil
}

type counting struct {
	r   io.Reader
	add func(int64)
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(int64(n))
	return n, err
}
