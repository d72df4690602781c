package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/content"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
	"github.com/strata-ml/strata/internal/reference"
)

// Loaded is an image read from an archive.
type Loaded struct {
	// Names are the canonical names the archive gave it.
	Names  []string
	Target v1.Descriptor
	ID     v1.Hash
}

// member is a file inside the archive, found by one pass over its headers.
type member struct {
	offset, size int64
}

// tarIndex maps each regular file in an archive to where its bytes lie.
type tarIndex struct {
	f        io.ReaderAt
	members  map[string]member
	progress func(int64)
}

// indexTar reads only the headers of a seekable archive.
func indexTar(f io.ReadSeeker) (*tarIndex, error) {
	ix := &tarIndex{members: map[string]member{}}
	links := map[string]string{}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, layer.ErrNotAnArchive
			}
			return nil, fmt.Errorf("%w: %v", layer.ErrTruncated, err)
		}
		name, err := layer.CleanName(hdr.Name)
		if err != nil {
			return nil, &layer.EntryError{Name: hdr.Name, Err: err}
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			ix.members[name] = member{offset: off, size: hdr.Size}
		case tar.TypeSymlink, tar.TypeLink:
			// Old docker-archives link repeated layers to one copy.
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				target = path.Join(path.Dir(name), target)
			}
			if target, err = layer.CleanName(target); err != nil {
				return nil, &layer.EntryError{Name: hdr.Name, Err: err}
			}
			links[name] = target
		}
	}
	for name, target := range links {
		for i := 0; i < 8; i++ { // follow short chains only
			if next, ok := links[target]; ok {
				target = next
			}
		}
		if m, ok := ix.members[target]; ok {
			ix.members[name] = m
		}
	}
	if ra, ok := f.(io.ReaderAt); ok {
		ix.f = ra
	} else {
		return nil, errors.New("archive must be a file")
	}
	return ix, nil
}

func (ix *tarIndex) open(name string) (*io.SectionReader, error) {
	m, ok := ix.members[strings.TrimPrefix(path.Clean(name), "/")]
	if !ok {
		return nil, fmt.Errorf("the archive has no file %q", name)
	}
	return io.NewSectionReader(&countingReaderAt{ix.f, ix.progress}, m.offset, m.size), nil
}

// countingReaderAt reports the bytes read through it.
type countingReaderAt struct {
	r        io.ReaderAt
	progress func(int64)
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if c.progress != nil {
		c.progress(int64(n))
	}
	return n, err
}

func (ix *tarIndex) has(name string) bool {
	_, ok := ix.members[strings.TrimPrefix(path.Clean(name), "/")]
	return ok
}

// readSmall reads a small member (a manifest, a config) whole.
func (ix *tarIndex) readSmall(name string) ([]byte, error) {
	sr, err := ix.open(name)
	if err != nil {
		return nil, err
	}
	if sr.Size() > 64<<20 {
		return nil, fmt.Errorf("%s: %d bytes is too large for a manifest or config", name, sr.Size())
	}
	return io.ReadAll(sr)
}

// Load reads an image archive: a docker-archive (docker save, podman save,
// skopeo docker-archive:), an OCI image layout in a tar (oci-archive), or
// both in one (Docker 25+, strata save). Everything the archive's manifests
// name is checked to be present before anything is written, and every blob
// is verified against its digest as it is stored. The caller holds the
// store (Store.Use) and sets the names.
//
// progress, if not nil, is told of the bytes copied as they are.
func Load(ctx context.Context, s *image.Store, f io.ReadSeeker, progress func(int64)) ([]Loaded, error) {
	ix, err := indexTar(f)
	if err != nil {
		return nil, err
	}
	ix.progress = progress
	var plans []plan
	switch {
	case ix.has("index.json") && ix.has("oci-layout"):
		plans, err = planOCI(ix)
	case ix.has("manifest.json"):
		plans, err = planDocker(ix)
	default:
		return nil, errors.New("not an image archive: it has neither manifest.json nor index.json with oci-layout")
	}
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, errors.New("the archive holds no images")
	}
	var out []Loaded
	for _, p := range plans {
		l, err := p.store(ctx, s, ix)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

// plan is one image to store, fully checked against the archive.
type plan struct {
	names []string
	// OCI: the manifest and every blob it needs, by digest.
	target *v1.Descriptor
	blobs  []v1.Descriptor
	// docker-archive: the config and its layer files.
	config []byte
	layers []string
	label  string // for errors: where in the archive this image came from
}

func blobName(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// planOCI follows index.json to each image manifest, choosing this
// machine's platform in a multi-platform index.
func planOCI(ix *tarIndex) ([]plan, error) {
	b, err := ix.readSmall("index.json")
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	// Names that manifest.json gives, by config path, for layouts whose
	// index carries only tags.
	dockerNames := map[string][]string{}
	if mb, err := ix.readSmall("manifest.json"); err == nil {
		var dms []dockerManifest
		if json.Unmarshal(mb, &dms) == nil {
			for _, dm := range dms {
				dockerNames[path.Clean(dm.Config)] = append(dockerNames[path.Clean(dm.Config)], dm.RepoTags...)
			}
		}
	}
	byDigest := map[v1.Hash]*plan{}
	var order []v1.Hash
	for _, d := range idx.Manifests {
		target, err := pickManifest(ix, d)
		if err != nil {
			return nil, err
		}
		p, ok := byDigest[target.Digest]
		if !ok {
			p = &plan{target: &target, label: "index.json manifest " + target.Digest.String()}
			mb, err := readBlob(ix, target.Digest)
			if err != nil {
				return nil, err
			}
			var m v1.Manifest
			if err := json.Unmarshal(mb, &m); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", target.Digest, err)
			}
			p.blobs = append([]v1.Descriptor{m.Config}, m.Layers...)
			for _, b := range p.blobs {
				if !ix.has(blobName(b.Digest)) {
					return nil, fmt.Errorf("manifest %s names blob %s, which the archive does not contain", target.Digest, b.Digest)
				}
			}
			for _, n := range dockerNames[blobName(m.Config.Digest)] {
				p.addName(n)
			}
			byDigest[target.Digest] = p
			order = append(order, target.Digest)
		}
		if n := d.Annotations["io.containerd.image.name"]; n != "" {
			p.addName(n)
		} else if n := d.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
			p.addName(n)
		}
	}
	var plans []plan
	for _, d := range order {
		plans = append(plans, *byDigest[d])
	}
	return plans, nil
}

func (p *plan) addName(n string) {
	ref, err := reference.ParseTagged(n)
	if err != nil {
		return
	}
	for _, have := range p.names {
		if have == ref.Name() {
			return
		}
	}
	p.names = append(p.names, ref.Name())
}

// pickManifest resolves an index entry to an image manifest, descending
// into nested indexes for this machine's platform.
func pickManifest(ix *tarIndex, d v1.Descriptor) (v1.Descriptor, error) {
	for depth := 0; depth < 4; depth++ {
		if !d.MediaType.IsIndex() {
			return d, nil
		}
		b, err := readBlob(ix, d.Digest)
		if err != nil {
			return d, err
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(b, &idx); err != nil {
			return d, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		var chosen *v1.Descriptor
		for i, m := range idx.Manifests {
			if m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH) {
				chosen = &idx.Manifests[i]
				break
			}
		}
		if chosen == nil {
			return d, fmt.Errorf("index %s has no image for linux/%s", d.Digest, runtime.GOARCH)
		}
		d = *chosen
	}
	return d, fmt.Errorf("index %s nests too deeply", d.Digest)
}

// readBlob reads a small blob from an OCI layout, verifying its digest.
func readBlob(ix *tarIndex, d v1.Hash) ([]byte, error) {
	if !ix.has(blobName(d)) {
		return nil, fmt.Errorf("index.json names %s, which the archive does not contain", d)
	}
	b, err := ix.readSmall(blobName(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if got := digestBytes(b); got != d {
		return nil, &content.CorruptError{Digest: d, Got: got}
	}
	return b, nil
}

// planDocker reads manifest.json and checks that every config and layer it
// names is in the archive.
func planDocker(ix *tarIndex) ([]plan, error) {
	b, err := ix.readSmall("manifest.json")
	if err != nil {
		return nil, err
	}
	var dms []dockerManifest
	if err := json.Unmarshal(b, &dms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var plans []plan
	for i, dm := range dms {
		label := fmt.Sprintf("manifest.json entry %d", i)
		cfg, err := ix.readSmall(dm.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %w", label, err)
		}
		var cf v1.ConfigFile
		if err := json.Unmarshal(cfg, &cf); err != nil {
			return nil, fmt.Errorf("%s: config %s: %w", label, dm.Config, err)
		}
		if len(cf.RootFS.DiffIDs) != len(dm.Layers) {
			return nil, fmt.Errorf("%s: config lists %d layers, manifest.json %d", label, len(cf.RootFS.DiffIDs), len(dm.Layers))
		}
		for _, l := range dm.Layers {
			if !ix.has(l) {
				return nil, fmt.Errorf("%s names layer %q, which the archive does not contain", label, l)
			}
		}
		p := plan{config: cfg, layers: dm.Layers, label: label}
		for _, n := range dm.RepoTags {
			p.addName(n)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// store copies a checked plan's blobs into the store.
func (p plan) store(ctx context.Context, s *image.Store, ix *tarIndex) (Loaded, error) {
	if p.target != nil {
		for _, b := range append(p.blobs, *p.target) {
			if err := putMember(ctx, s, ix, blobName(b.Digest), b.Digest); err != nil {
				return Loaded{}, err
			}
		}
		m, err := s.Manifest(ctx, *p.target)
		if err != nil {
			return Loaded{}, err
		}
		return Loaded{Names: p.names, Target: *p.target, ID: m.Config.Digest}, nil
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(p.config, &cf); err != nil {
		return Loaded{}, err
	}
	var layers []v1.Descriptor
	for i, l := range p.layers {
		d, err := putLayer(ctx, s, ix, l, cf.RootFS.DiffIDs[i])
		if err != nil {
			return Loaded{}, fmt.Errorf("%s: layer %s: %w", p.label, l, err)
		}
		layers = append(layers, d)
	}
	target, err := s.WriteManifest(ctx, p.config, layers)
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{Names: p.names, Target: target, ID: digestBytes(p.config)}, nil
}

// putMember stores an archive member that must have digest d, skipping
// blobs the store already holds.
func putMember(ctx context.Context, s *image.Store, ix *tarIndex, name string, d v1.Hash) error {
	if ok, _ := content.Has(ctx, s.Content(), d); ok {
		return nil
	}
	sr, err := ix.open(name)
	if err != nil {
		return err
	}
	if _, err := content.Put(ctx, s.Content(), sr, d); err != nil {
		var m *content.MismatchError
		if errors.As(err, &m) {
			return fmt.Errorf("%s: %w", name, &content.CorruptError{Digest: d, Got: m.Got})
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// putLayer stores a docker-archive layer as it is (compressed or not) and
// checks that its uncompressed bytes have the diff ID the config records.
func putLayer(ctx context.Context, s *image.Store, ix *tarIndex, name string, diffID v1.Hash) (v1.Descriptor, error) {
	if info, err := s.Content().Info(ctx, diffID); err == nil {
		// The store has this layer's uncompressed tar already: the same content.
		return v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: info.Digest, Size: info.Size}, nil
	}
	sr, err := ix.open(name)
	if err != nil {
		return v1.Descriptor{}, err
	}
	c, _, err := layer.Detect(sr)
	if err != nil {
		return v1.Descriptor{}, err
	}
	sr.Seek(0, io.SeekStart)
	if c == layer.None {
		info, err := content.Put(ctx, s.Content(), sr, diffID)
		var m *content.MismatchError
		if errors.As(err, &m) {
			return v1.Descriptor{}, fmt.Errorf("its content has digest %s, but the config records diff ID %s", m.Got, diffID)
		}
		if err != nil {
			return v1.Descriptor{}, err
		}
		return v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: info.Digest, Size: info.Size}, nil
	}
	mt := map[layer.Compression]types.MediaType{layer.Gzip: types.OCILayer, layer.Zstd: types.OCILayerZStd}[c]
	if mt == "" {
		return v1.Descriptor{}, fmt.Errorf("%s-compressed layers are not supported", c)
	}
	// Store the compressed bytes while a second reader computes the diff ID.
	pr, pw := io.Pipe()
	diffDone := make(chan error, 1)
	go func() {
		zr, _, err := layer.Decompress(pr)
		if err == nil {
			var got v1.Hash
			got, err = digestReader(zr)
			zr.Close()
			if err == nil && got != diffID {
				err = fmt.Errorf("its uncompressed content has digest %s, but the config records diff ID %s", got, diffID)
			}
		}
		pr.CloseWithError(err)
		io.Copy(io.Discard, pr)
		diffDone <- err
	}()
	w, err := s.Content().Writer(ctx)
	if err != nil {
		pw.Close()
		return v1.Descriptor{}, err
	}
	defer w.Close()
	_, err = io.Copy(io.MultiWriter(w, pw), &contextReader{ctx: ctx, r: sr})
	pw.CloseWithError(err)
	if derr := <-diffDone; derr != nil {
		return v1.Descriptor{}, derr
	}
	if err != nil {
		return v1.Descriptor{}, err
	}
	info, err := w.Commit(ctx, v1.Hash{})
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: info.Digest, Size: info.Size}, nil
}

// SpoolStdin copies a stream (load < file) into a temporary file in dir so
// it can be read out of order, and returns it; the caller closes and
// removes it.
func SpoolStdin(ctx context.Context, r io.Reader, dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "load-")
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, &contextReader{ctx: ctx, r: r}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}
