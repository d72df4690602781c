package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-ml/strata/internal/buildctx"
	"github.com/strata-ml/strata/internal/cache"
	"github.com/strata-ml/strata/internal/layer"
)

// copySpec is what COPY and ADD share.
type copySpec struct {
	sources  []string
	contents []instructions.SourceContent
	dest     string
	chown    string
	chmod    string
	from     string
	isAdd    bool
	checksum string
}

func (b *builder) prepareCopy(ctx context.Context, st *state, c *instructions.CopyCommand, ex *execution) (*execution, error) {
	return b.prepareCopySpec(ctx, st, copySpec{
		sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, from: c.From,
	}, ex)
}

func (b *builder) prepareAdd(ctx context.Context, st *state, c *instructions.AddCommand, ex *execution) (*execution, error) {
	return b.prepareCopySpec(ctx, st, copySpec{
		sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, isAdd: true, checksum: c.Checksum,
	}, ex)
}

// prepareCopySpec resolves sources to files, digests them for the cache
// key, and returns the step that writes them as a layer. Under --no-cache
// the step runs whatever its key, so the context files are digested while
// the layer reads them, and the key is made after. (A rebuilt parent is no
// such promise: a parent whose record was lost reruns under the same key,
// and the step may still hit.)
func (b *builder) prepareCopySpec(ctx context.Context, st *state, spec copySpec, ex *execution) (*execution, error) {
	ex.keyAfterRun = b.opts.NoCache
	uid, gid, err := parseChown(spec.chown)
	byName := errors.Is(err, errChownNames)
	if err != nil && !byName {
		return nil, err
	}
	layers := append([]v1.Descriptor(nil), st.layers...)
	diffIDs := append([]v1.Hash(nil), st.config.RootFS.DiffIDs...)
	var chmod int64 = -1
	if spec.chmod != "" {
		m, err := strconv.ParseInt(spec.chmod, 8, 32)
		if err != nil || m < 0 || m > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: want an octal mode such as 0755", spec.chmod)
		}
		chmod = m
	}
	dest := resolvePath(st.config.Config.WorkingDir, spec.dest)
	destIsDir := strings.HasSuffix(spec.dest, "/") || spec.dest == "." || len(spec.sources)+len(spec.contents) > 1
	var src source
	switch {
	case spec.from != "":
		if src, err = b.stageSource(ctx, spec.from, st); err != nil {
			return nil, err
		}
	default:
		src = contextSource{b.opts.Context}
	}
	var entries []entry
	files := &keyFiles{m: map[string]string{}, afterRun: ex.keyAfterRun}
	for _, s := range spec.sources {
		if spec.isAdd && isURL(s) {
			e, err := b.addURL(ctx, s, spec.checksum, dest, destIsDir)
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
			files.m[s] = spec.checksum
			continue
		}
		if strings.ContainsAny(s, "*?[") {
			destIsDir = true
		}
		matches, err := src.match(s)
		if err != nil {
			return nil, err
		}
		if cs, ok := src.(contextSource); ok && !ex.keyAfterRun {
			// Hash the files on every core before they are listed one by one.
			var all []*buildctx.File
			for _, m := range matches {
				all = append(all, cs.c.Under(m)...)
			}
			if err := buildctx.Digests(all); err != nil {
				return nil, err
			}
		}
		for _, m := range matches {
			got, err := src.entries(m, dest, destIsDir, files)
			if err != nil {
				return nil, err
			}
			if spec.isAdd && len(got) == 1 && got[0].typ == tar.TypeReg {
				if tarEntries, ok, err := untarLocal(got[0], dest); err != nil {
					return nil, fmt.Errorf("ADD %s: %w", s, err)
				} else if ok {
					got = tarEntries
				}
			}
			entries = append(entries, got...)
		}
	}
	for _, sc := range spec.contents {
		data := []byte(sc.Data)
		target := dest
		if destIsDir || len(spec.contents) > 1 {
			target = path.Join(dest, sc.Path)
		}
		entries = append(entries, entry{path: strings.TrimPrefix(path.Clean(target), "/"), typ: tar.TypeReg, mode: 0o644, size: int64(len(data)),
			open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		files.m["<<"+sc.Path] = fmt.Sprintf("%x", data)
	}
	ex.inputs.Files = files.m
	ex.inputs.Extra = []string{"chown=" + spec.chown, "chmod=" + spec.chmod}
	ex.run = func(ctx context.Context, rec *cache.Record) error {
		entries, err := b.resolveDeferred(ctx, src, entries)
		if err != nil {
			return err
		}
		if byName {
			if b.opts.Runner == nil {
				return fmt.Errorf("--chown=%s: resolving names needs the image's files, and no runtime is available; use numeric IDs", spec.chown)
			}
			if uid, gid, err = b.opts.Runner.ResolveUser(ctx, layers, diffIDs, spec.chown); err != nil {
				return fmt.Errorf("--chown=%s: %w", spec.chown, err)
			}
		}
		for i := range entries {
			entries[i].uid, entries[i].gid = uid, gid
			if chmod >= 0 && entries[i].typ != tar.TypeSymlink {
				entries[i].mode = chmod
			}
		}
		desc, diffID, err := b.writeLayer(ctx, entries)
		if err != nil {
			return err
		}
		if err := files.digestLate(); err != nil {
			return err
		}
		rec.Layer, rec.DiffID = &desc, &diffID
		return nil
	}
	return ex, nil
}

// keyFiles collects what a COPY reads, for its cache key: source path ->
// digest and mode. With afterRun, context files are digested while the
// layer reads them, and their entries are filled in by digestLate.
type keyFiles struct {
	m        map[string]string
	afterRun bool
	late     []lateDigest
}

// lateDigest is a context file whose key entry waits for the layer.
type lateDigest struct {
	f    *buildctx.File
	mode int64
}

// add records a file or link's digest and mode, now or (afterRun) later.
func (k *keyFiles) add(f *buildctx.File, mode int64) error {
	if k.afterRun {
		k.late = append(k.late, lateDigest{f, mode})
		return nil
	}
	d, err := f.Digest()
	if err != nil {
		return err
	}
	k.m[f.Path] = fmt.Sprintf("%s %o", d, mode)
	return nil
}

// digestLate fills in the entries add left for later: the layer has read
// the files by now, so their digests are known without reading them again.
func (k *keyFiles) digestLate() error {
	late := k.late
	k.late, k.afterRun = nil, false
	for _, l := range late {
		if err := k.add(l.f, l.mode); err != nil {
			return err
		}
	}
	return nil
}

// source is where COPY reads from: the build context or another stage.
type source interface {
	// match resolves a source path or glob to its paths.
	match(src string) ([]string, error)
	// entries lists the layer entries for one matched path copied to dest,
	// and records each file's digest in files.
	entries(p, dest string, destIsDir bool, files *keyFiles) ([]entry, error)
}

type contextSource struct{ c *buildctx.Context }

func (s contextSource) match(src string) ([]string, error) {
	if s.c.Dir == "" {
		return nil, fmt.Errorf("%s: %w", src, buildctx.ErrNoContext)
	}
	return s.c.Match(src)
}

func (s contextSource) entries(p, dest string, destIsDir bool, files *keyFiles) ([]entry, error) {
	var out []entry
	root, isFile := s.c.Lookup(p)
	if p != "." && isFile && !root.Mode.IsDir() {
		target := dest
		if destIsDir {
			target = path.Join(dest, path.Base(p))
		}
		e, err := fileEntry(root, target, files)
		if err != nil {
			return nil, err
		}
		return []entry{e}, nil
	}
	// A directory: its contents, not itself, go under dest.
	out = append(out, entry{path: strings.TrimPrefix(path.Clean(dest), "/"), typ: tar.TypeDir, mode: 0o755})
	for _, f := range s.c.Under(p) {
		if f.Path == p {
			if f.Mode.IsDir() {
				out[0].mode = int64(f.Mode.Perm())
			}
			continue
		}
		rel := f.Path
		if p != "." {
			rel = strings.TrimPrefix(f.Path, p+"/")
		}
		e, err := fileEntry(f, path.Join(dest, rel), files)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if out[0].path == "" {
		out = out[1:] // the image root itself
	}
	return out, nil
}

// fileEntry makes the layer entry for one context file and records its
// digest and mode for the cache key.
func fileEntry(f *buildctx.File, target string, files *keyFiles) (entry, error) {
	e := entry{path: strings.TrimPrefix(path.Clean(target), "/"), mode: int64(f.Mode.Perm())}
	if f.Mode&fs.ModeSetuid != 0 {
		e.mode |= 0o4000
	}
	if f.Mode&fs.ModeSetgid != 0 {
		e.mode |= 0o2000
	}
	if f.Mode&fs.ModeSticky != 0 {
		e.mode |= 0o1000
	}
	switch {
	case f.Mode.IsDir():
		e.typ = tar.TypeDir
		files.m[f.Path] = fmt.Sprintf("dir %o", e.mode)
		return e, nil
	case f.Mode&fs.ModeSymlink != 0:
		e.typ, e.link = tar.TypeSymlink, f.Link
	case f.Mode.IsRegular():
		e.typ, e.size = tar.TypeReg, f.Size
		e.open = func() (io.ReadCloser, error) { return f.Open() }
	default:
		return e, fmt.Errorf("%s: cannot copy a %s", f.Path, f.Mode.Type())
	}
	return e, files.add(f, e.mode)
}

// errChownNames says --chown names a user or group: it is resolved against
// the image's /etc/passwd when the step runs.
var errChownNames = errors.New("--chown names a user")

// parseChown reads --chown=UID[:GID]; names give errChownNames.
func parseChown(s string) (int, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	user, group, hasGroup := strings.Cut(s, ":")
	id := func(x string) (int, error) {
		if x == "root" {
			return 0, nil
		}
		n, err := strconv.Atoi(x)
		if err != nil {
			return 0, errChownNames
		}
		if n < 0 {
			return 0, fmt.Errorf("--chown=%s: IDs cannot be negative", s)
		}
		return n, nil
	}
	uid, err := id(user)
	if err != nil {
		return 0, 0, err
	}
	gid := uid
	if hasGroup {
		if gid, err = id(group); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// untarLocal expands a local tar archive (plain or compressed) that ADD
// copies, the way Docker does: its entries land under dest. ok is false
// when the file is not an archive.
func untarLocal(e entry, dest string) ([]entry, bool, error) {
	rc, err := e.open()
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	dr, c, err := layer.Decompress(rc)
	if err != nil {
		return nil, false, nil
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var out []entry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(out) == 0 && c == layer.None {
				return nil, false, nil // not an archive: copy it as a file
			}
			return nil, false, err
		}
		name, err := layer.CleanName(hdr.Name)
		if err != nil {
			return nil, false, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		if name == "" {
			continue
		}
		x := entry{path: strings.TrimPrefix(path.Join(dest, name), "/"), typ: hdr.Typeflag, mode: hdr.Mode & 0o7777, link: hdr.Linkname}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, false, err
			}
			x.typ, x.size = tar.TypeReg, int64(len(data))
			x.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		case tar.TypeDir, tar.TypeSymlink:
		case tar.TypeLink:
			target, err := layer.CleanName(hdr.Linkname)
			if err != nil {
				return nil, false, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			x.link = strings.TrimPrefix(path.Join(dest, target), "/")
		default:
			continue
		}
		out = append(out, x)
	}
	return out, true, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }
