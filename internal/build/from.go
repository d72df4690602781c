package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/layer"
)

// stageSource is COPY --from's source: an earlier stage or an image. Its
// files are read from the layers only when the step runs; its cache key
// is the stage's key (or the image's digest), which already determines
// every byte.
func (b *builder) stageSource(ctx context.Context, from string, st *state) (source, error) {
	if dep, ok := b.stageRef(from, len(b.df.Stages)); ok {
		done, ok := b.done[dep.Index]
		if !ok {
			return nil, fmt.Errorf("--from=%s: stage %q is not built before this one", from, from)
		}
		return &layersSource{b: b, from: from, layers: done.layers, key: string(done.key)}, nil
	}
	img, err := b.s.Lookup(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	return &layersSource{b: b, from: from, layers: img.Manifest.Layers, key: img.Target.Digest.String()}, nil
}

// layersSource reads files out of an image's layers, whiteouts applied.
type layersSource struct {
	b      *builder
	from   string
	layers []v1.Descriptor
	key    string
	fs     map[string]*memFile
}

type memFile struct {
	hdr  *tar.Header
	data []byte
}

func (s *layersSource) match(src string) ([]string, error) {
	// Paths are matched when the step runs (see entries).
	return []string{src}, nil
}

// entries lists what one source path copies, recording the source's key
// (not each file) for the cache.
func (s *layersSource) entries(src, dest string, destIsDir bool, files *keyFiles) ([]entry, error) {
	files.m["--from="+s.from+":"+src] = s.key
	return []entry{{deferred: &deferredCopy{src: src, dest: dest, destIsDir: destIsDir}}}, nil
}

// deferredCopy is a COPY --from source resolved only when the step runs.
type deferredCopy struct {
	src, dest string
	destIsDir bool
}

// resolveDeferred replaces deferred entries with the files they name.
func (b *builder) resolveDeferred(ctx context.Context, src source, entries []entry) ([]entry, error) {
	ls, ok := src.(*layersSource)
	if !ok {
		return entries, nil
	}
	var out []entry
	for _, e := range entries {
		if e.deferred == nil {
			out = append(out, e)
			continue
		}
		if ls.fs == nil {
			if err := ls.load(ctx); err != nil {
				return nil, err
			}
		}
		got, err := ls.resolve(e.deferred.src, e.deferred.dest, e.deferred.destIsDir)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// load reads every layer, bottom to top, into a view of the final tree.
func (s *layersSource) load(ctx context.Context) error {
	s.fs = map[string]*memFile{}
	for _, l := range s.layers {
		rc, err := s.b.s.Content().Open(ctx, l.Digest)
		if err != nil {
			return fmt.Errorf("--from=%s: %w", s.from, err)
		}
		err = s.apply(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("--from=%s: layer %s: %w", s.from, l.Digest, err)
		}
	}
	return nil
}

func (s *layersSource) apply(r io.Reader) error {
	dr, _, err := layer.Decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name, err := layer.CleanName(hdr.Name)
		if err != nil || name == "" {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			s.removeUnder(dir, false)
			continue
		case strings.HasPrefix(base, ".wh."):
			s.removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
			continue
		}
		f := &memFile{hdr: hdr}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if f.data, err = io.ReadAll(tr); err != nil {
				return err
			}
		}
		s.fs[name] = f
	}
}

func (s *layersSource) removeUnder(p string, self bool) {
	for k := range s.fs {
		if (self && k == p) || strings.HasPrefix(k, p+"/") || (p == "" && !self) {
			delete(s.fs, k)
		}
	}
}

// resolve lists the entries for one source path (a file, a directory's
// contents, or a glob) copied to dest.
func (s *layersSource) resolve(src, dest string, destIsDir bool) ([]entry, error) {
	clean := strings.TrimPrefix(path.Clean("/"+src), "/")
	var matches []string
	for p := range s.fs {
		if ok, _ := path.Match(clean, p); ok || p == clean {
			matches = append(matches, p)
		}
	}
	if clean == "" {
		matches = []string{""}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("--from=%s: %s: no such file in the stage", s.from, src)
	}
	sort.Strings(matches)
	var out []entry
	for _, m := range matches {
		f := s.fs[m]
		if m != "" && f.hdr.Typeflag != tar.TypeDir {
			target := dest
			if destIsDir || len(matches) > 1 {
				target = path.Join(dest, path.Base(m))
			}
			out = append(out, s.entry(f, target))
			continue
		}
		for p, f := range s.fs {
			if m == "" || strings.HasPrefix(p, m+"/") {
				rel := p
				if m != "" {
					rel = strings.TrimPrefix(p, m+"/")
				}
				out = append(out, s.entry(f, path.Join(dest, rel)))
			}
		}
	}
	return out, nil
}

// entry copies one file of the view to target; a hard link becomes a copy
// of what it links to, since its target may not be copied too.
func (s *layersSource) entry(f *memFile, target string) entry {
	if f.hdr.Typeflag == tar.TypeLink {
		if name, err := layer.CleanName(f.hdr.Linkname); err == nil {
			if t, ok := s.fs[name]; ok && t.hdr.Typeflag != tar.TypeLink {
				f = &memFile{hdr: &tar.Header{Typeflag: tar.TypeReg, Mode: f.hdr.Mode}, data: t.data}
			}
		}
	}
	e := entry{path: strings.TrimPrefix(path.Clean(target), "/"), typ: f.hdr.Typeflag, mode: f.hdr.Mode & 0o7777, link: f.hdr.Linkname}
	if e.typ == tar.TypeRegA {
		e.typ = tar.TypeReg
	}
	if e.typ == tar.TypeReg {
		data := f.data
		e.size = int64(len(data))
		e.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	return e
}
