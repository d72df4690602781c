package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// Named is an image with the names to record for it in an archive.
type Named struct {
	Image image.Image
	// Names are canonical names; none saves the image by ID only.
	Names []string
}

// dockerManifest is one entry of a docker-archive manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// epoch is the time stamped on every entry of a saved archive, so saving
// the same images twice gives the same bytes.
var epoch = time.Unix(0, 0).UTC()

// Save writes images to w as one tar that is both a docker-archive
// (manifest.json, read by docker load and podman load) and an OCI image
// layout (oci-layout, index.json, blobs/sha256/), as Docker 25+ writes it.
// Blobs are copied from the store as they are, verified while copied.
func Save(ctx context.Context, s *image.Store, w io.Writer, imgs []Named) error {
	tw := tar.NewWriter(w)
	written := map[v1.Hash]bool{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	var manifests []dockerManifest
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, n := range imgs {
		m := n.Image.Manifest
		blobs := append([]v1.Descriptor{m.Config}, m.Layers...)
		blobs = append(blobs, n.Image.Target)
		for _, b := range blobs {
			if written[b.Digest] {
				continue
			}
			if err := copyBlob(ctx, s, tw, b); err != nil {
				return err
			}
			written[b.Digest] = true
		}
		dm := dockerManifest{Config: blobPath(m.Config.Digest), RepoTags: []string{}}
		for _, l := range m.Layers {
			dm.Layers = append(dm.Layers, blobPath(l.Digest))
		}
		target := n.Image.Target
		target.Annotations = nil
		if len(n.Names) == 0 {
			index.Manifests = append(index.Manifests, target)
		}
		for _, name := range n.Names {
			ref, err := reference.Parse(name)
			if err != nil {
				return err
			}
			dm.RepoTags = append(dm.RepoTags, ref.FamiliarString())
			d := target
			d.Annotations = map[string]string{
				"io.containerd.image.name":          ref.String(),
				"org.opencontainers.image.ref.name": ref.Tag,
			}
			index.Manifests = append(index.Manifests, d)
		}
		manifests = append(manifests, dm)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"index.json", index}, {"manifest.json", manifests}, {"oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := writeFile(tw, f.name, b); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobPath(d v1.Hash) string { return path.Join("blobs", d.Algorithm, d.Hex) }

func writeFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// copyBlob streams one blob from the store into the archive; a blob whose
// bytes no longer match its digest fails the save, naming the blob.
func copyBlob(ctx context.Context, s *image.Store, tw *tar.Writer, d v1.Descriptor) error {
	rc, err := s.Content().Open(ctx, d.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	info, err := s.Content().Info(ctx, d.Digest)
	if err != nil {
		return err
	}
	if info.Size != d.Size {
		return &content.CorruptError{Digest: d.Digest}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(d.Digest), Mode: 0o644, Size: d.Size, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	// Large reads: the verifying reader hashes each chunk, and small
	// chunks cost a system call each.
	if _, err := io.CopyBuffer(struct{ io.Writer }{tw}, &contextReader{ctx: ctx, r: rc}, make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("save %s: %w", d.Digest, err)
	}
	return nil
}
