package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"

	"github.com/strata-ml/strata/internal/asynchash"
	"github.com/strata-ml/strata/internal/layer"
)

// entry is one file of a layer being written.
type entry struct {
	path     string // in the image, without a leading slash
	typ      byte
	mode     int64
	uid, gid int
	link     string
	size     int64
	open     func() (io.ReadCloser, error)
	// sizeFunc, if set, gives the size when the step runs (downloads).
	sizeFunc func() (int64, error)
	// deferred, if set, stands for files of another stage, listed when
	// the step runs (COPY --from).
	deferred *deferredCopy
}

// writeLayer writes entries as one layer, reproducibly: parent directories
// added, entries sorted by path, every time the build's epoch, owners as
// given.
func (b *builder) writeLayer(ctx context.Context, entries []entry) (v1.Descriptor, v1.Hash, error) {
	entries = withParents(entries)
	var total int64
	for _, e := range entries {
		if e.sizeFunc != nil {
			total = -1 // a download: size unknown until it runs
			break
		}
		total += e.size
	}
	return b.storeLayer(ctx, total, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		buf := make([]byte, min(max(total, 32<<10), 1<<20))
		ahead := readAhead(ctx, entries)
		defer ahead.stop()
		for _, e := range entries {
			var content *[]byte
			if ahead != nil && isSmallFile(e) {
				var err error
				if content, err = ahead.next(); err != nil {
					return fmt.Errorf("layer entry %s: %w", e.path, err)
				}
			}
			err := b.writeEntry(ctx, tw, e, buf, content)
			ahead.release(content)
			if err != nil {
				return fmt.Errorf("layer entry %s: %w", e.path, err)
			}
		}
		return tw.Close()
	})
}

// writeEntry writes one entry; a regular file's content is read from e,
// or is content when it was read ahead.
func (b *builder) writeEntry(ctx context.Context, tw *tar.Writer, e entry, buf []byte, content *[]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	hdr := &tar.Header{
		Name: e.path, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
		Linkname: e.link, ModTime: b.opts.Epoch, Format: tar.FormatPAX,
	}
	if e.typ == tar.TypeDir {
		hdr.Name += "/"
	}
	if e.typ == tar.TypeReg && e.sizeFunc != nil {
		var err error
		if e.size, err = e.sizeFunc(); err != nil {
			return err
		}
	}
	if e.typ == tar.TypeReg {
		hdr.Size = e.size
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if e.typ != tar.TypeReg {
		return nil
	}
	if content != nil {
		_, err := tw.Write(*content)
		return err
	}
	rc, err := e.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.CopyBuffer(tw, io.LimitReader(rc, e.size), buf)
	if err == nil && n != e.size {
		err = errChangedSize
	}
	return err
}

var errChangedSize = errors.New("changed size while being copied")

// Small files are read ahead of the tar writer on a goroutine of their
// own: for a context of thousands of them, opening and reading files is
// most of the work, and this way it overlaps with writing, hashing and
// compressing the ones before.
const (
	smallFile      = 64 << 10 // the largest file read ahead
	readAheadDepth = 64       // files read ahead at most
	readAheadMin   = 32       // fewer small files than this are not worth a goroutine
)

func isSmallFile(e entry) bool {
	return e.typ == tar.TypeReg && e.open != nil && e.sizeFunc == nil && e.size <= smallFile
}

// fileReadAhead reads the small files of a layer, in order, on a goroutine;
// next returns them in the same order. nil (nothing read ahead) when there
// are too few.
type fileReadAhead struct {
	ctx     context.Context
	results chan readResult // closed when the goroutine stops
	cancel  context.CancelFunc
	done    chan struct{}
	pool    sync.Pool
}

type readResult struct {
	content *[]byte
	err     error
}

func readAhead(ctx context.Context, entries []entry) *fileReadAhead {
	n := 0
	for _, e := range entries {
		if isSmallFile(e) {
			n++
		}
	}
	if n < readAheadMin {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &fileReadAhead{ctx: ctx, results: make(chan readResult, readAheadDepth), cancel: cancel, done: make(chan struct{})}
	r.pool.New = func() any { b := make([]byte, 0, smallFile); return &b }
	go func() {
		defer close(r.done)
		defer close(r.results)
		for _, e := range entries {
			if !isSmallFile(e) {
				continue
			}
			content, err := r.read(e)
			select {
			case r.results <- readResult{content, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// read reads all of a small file: exactly its size, as the tar header says.
func (r *fileReadAhead) read(e entry) (*[]byte, error) {
	rc, err := e.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	bp := r.pool.Get().(*[]byte)
	*bp = (*bp)[:e.size]
	if _, err := io.ReadFull(rc, *bp); err != nil {
		r.pool.Put(bp)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errChangedSize
		}
		return nil, err
	}
	return bp, nil
}

// next returns the next small file's content. The goroutine stops early
// only when the build is cancelled, and next then says so.
func (r *fileReadAhead) next() (*[]byte, error) {
	res, ok := <-r.results
	if !ok {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("reading ahead stopped")
	}
	return res.content, res.err
}

// release gives a content buffer back for reuse.
func (r *fileReadAhead) release(content *[]byte) {
	if r != nil && content != nil {
		r.pool.Put(content)
	}
}

// stop ends the reading goroutine, if it still runs.
func (r *fileReadAhead) stop() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	for res := range r.results {
		r.release(res.content)
	}
}

// smallLayer is the content size under which a gzip layer is compressed in
// one stream rather than in pgzip's parallel blocks, whose buffers would
// cost more than the work. The choice depends only on the content, so
// layers still reproduce.
const smallLayer = 1 << 20

// asyncDiffSize is the layer size from which its diff ID is hashed on a
// goroutine of its own.
const asyncDiffSize = 4 << 20

// storeLayer compresses the uncompressed layer tar that write produces,
// with fixed settings so layers reproduce, into the content store, and
// returns the blob's descriptor and the layer's diff ID. size is the
// content's size if known in advance, else -1.
func (b *builder) storeLayer(ctx context.Context, size int64, write func(io.Writer) error) (v1.Descriptor, v1.Hash, error) {
	w, err := b.s.Content().Writer(ctx)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer w.Close()
	var zw io.WriteCloser
	var mt types.MediaType
	switch b.opts.Compression {
	case layer.Zstd:
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		zw, mt = enc, types.OCILayerZStd
	case layer.Gzip:
		if size < 0 || size >= smallLayer {
			break
		}
		gz, err := kgzip.NewWriterLevel(w, kgzip.DefaultCompression)
		if err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		zw, mt = gz, types.OCILayer
	}
	if zw == nil {
		gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		// Fixed block size: pgzip's output depends on it, not on the
		// number of goroutines, so layers reproduce on any machine.
		if err := gz.SetConcurrency(1<<20, 4); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		zw, mt = gz, types.OCILayer
	}
	// The diff ID's hash runs beside the compression and the blob's own
	// digest: on its own goroutine when the layer is large.
	var diff interface {
		io.Writer
		Sum([]byte) []byte
	} = sha256.New()
	if size >= asyncDiffSize {
		a := asynchash.New(sha256.New(), 1<<20, 4)
		defer a.Close()
		diff = a
	}
	if err := write(io.MultiWriter(zw, diff)); err != nil {
		zw.Close()
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	info, err := w.Commit(ctx, v1.Hash{})
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	return v1.Descriptor{MediaType: mt, Digest: info.Digest, Size: info.Size}, diffID, nil
}

// withParents adds a directory entry (0755, root) for every missing parent,
// drops duplicates (the last wins) and sorts by path.
func withParents(entries []entry) []entry {
	byPath := map[string]entry{}
	for _, e := range entries {
		byPath[e.path] = e
	}
	for _, e := range entries {
		for dir := path.Dir(e.path); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := byPath[dir]; ok {
				break
			}
			byPath[dir] = entry{path: dir, typ: tar.TypeDir, mode: 0o755}
		}
	}
	out := make([]entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	// Sort so a directory comes right before what it holds.
	sort.Slice(out, func(i, j int) bool {
		return strings.ReplaceAll(out[i].path, "/", "\x00") < strings.ReplaceAll(out[j].path, "/", "\x00")
	})
	return out
}
