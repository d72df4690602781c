// Package archive moves images in and out of tarballs: root filesystem
// tarballs imported as one-layer images (docker import), and image
// archives saved and loaded in the forms Docker, Podman and skopeo write
// (docker-archive manifest.json and OCI image layout, in one tar).
package archive

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
)

// ImportOptions adjust an import.
type ImportOptions struct {
	// Source names the input in the history entry ("-" for stdin).
	Source string
	// Message is the history comment; default "Imported from SOURCE".
	Message string
	// Config is the image configuration (CMD, ENV, ...) to record.
	Config v1.Config
	// Created is the image's creation time; default now.
	Created time.Time
}

// Import turns a root filesystem tarball (plain, gzip, zstd or bzip2) into
// a one-layer image, as `docker import` does, and returns the manifest's
// descriptor. The tarball is checked entry by entry (see layer.Sanitize)
// and stored uncompressed, so its digest is its diff ID; nothing is
// extracted. The caller names the image and holds the store (Store.Use).
func Import(ctx context.Context, s *image.Store, r io.Reader, opts ImportOptions) (v1.Descriptor, error) {
	counted := &countingReader{r: r}
	tr, _, err := layer.Decompress(counted)
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer tr.Close()
	w, err := s.Content().Writer(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer w.Close()
	_, err = layer.Sanitize(&contextReader{ctx: ctx, r: tr}, w)
	if counted.n == 0 {
		return v1.Descriptor{}, layer.ErrEmptyArchive
	}
	if err != nil {
		return v1.Descriptor{}, err
	}
	info, err := w.Commit(ctx, v1.Hash{})
	if err != nil {
		return v1.Descriptor{}, err
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + opts.Source
	}
	cfg := v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       opts.Config,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{info.Digest}},
		History:      []v1.History{{Created: v1.Time{Time: created}, Comment: comment}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return s.WriteManifest(ctx, b, []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Digest: info.Digest, Size: info.Size}})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// contextReader stops a long copy when its context is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
