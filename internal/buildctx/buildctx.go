// Package buildctx is a build context: the directory a build copies from,
// filtered by .dockerignore with Docker's semantics, with the content
// digests that build cache keys are made of (never modification times).
package buildctx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/strata-ml/strata/internal/asynchash"
	"github.com/strata-ml/strata/internal/content"
)

// File is one file, directory or symbolic link of the context.
type File struct {
	// Path is the slash-separated path relative to the context root.
	Path string
	Mode fs.FileMode
	Size int64
	// Link is a symbolic link's target.
	Link string
	UID  int
	GID  int

	abs     string
	modTime time.Time
	once    sync.Once
	digest  string
	err     error
}

// Digest is the sha256 of a regular file's content, of a link's target,
// or "" for a directory; computed once.
func (f *File) Digest() (string, error) {
	f.once.Do(func() {
		switch {
		case f.Mode.IsRegular():
			var r *os.File
			if r, f.err = content.OpenFile(f.abs); f.err != nil {
				return
			}
			defer r.Close()
			h := sha256.New()
			bp := hashBuffers.Get().(*[]byte)
			defer hashBuffers.Put(bp)
			if _, f.err = io.CopyBuffer(h, r, *bp); f.err == nil {
				f.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
			}
		case f.Mode&fs.ModeSymlink != 0:
			sum := sha256.Sum256([]byte(f.Link))
			f.digest = "sha256:" + hex.EncodeToString(sum[:])
		}
	})
	return f.digest, f.err
}

// ModTime is the file's modification time (never part of a cache key).
func (f *File) ModTime() time.Time { return f.modTime }

// hashBuffers are Digest's read buffers, reused across files.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Digests computes the digests of files on every core, so that the calls
// to Digest that follow return at once. It returns the first error.
func Digests(files []*File) error {
	return parallel(len(files), func(i int) error {
		_, err := files[i].Digest()
		return err
	})
}

// parallel calls fn(0) ... fn(n-1) on every core and returns the first
// error. Few calls run in turn on the caller's goroutine.
func parallel(n int, fn func(i int) error) error {
	workers := runtime.GOMAXPROCS(0)
	if n < 64 || workers < 2 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next  atomic.Int64
		first error
		once  sync.Once
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Open opens the file's content. A caller that reads all Size bytes of it
// computes its digest on the way: Digest then answers without reading the
// file again, so a step that must run anyway (--no-cache) reads each file
// once, for the layer and the key together.
func (f *File) Open() (io.ReadCloser, error) {
	if !f.Mode.IsRegular() {
		return os.Open(f.abs)
	}
	// content.OpenFile: no poller registration, which a context of
	// thousands of small files would feel.
	r, err := content.OpenFile(f.abs)
	if err != nil {
		return nil, err
	}
	d := &digestingReader{r: r, f: f}
	if f.Size >= asyncHashSize {
		// Hashed on another core: the layer's own digests take this one.
		d.async = asynchash.New(sha256.New(), 1<<20, 4)
		d.h = d.async
	} else {
		d.h = sha256.New()
	}
	return d, nil
}

// asyncHashSize is the file size from which Open's reader hashes on a
// goroutine of its own.
const asyncHashSize = 4 << 20

// digestingReader hashes what it reads and, once Size bytes have been
// read, makes that the file's digest (unless Digest already ran).
type digestingReader struct {
	r     *os.File // not embedded: its WriteTo would bypass the hash
	f     *File
	h     io.Writer // sha256, or async
	async *asynchash.Hash
	n     int64
	done  bool
}

func (d *digestingReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n == 0 || d.done {
		return n, err
	}
	k := min(int64(n), d.f.Size-d.n) // past Size (the file grew), the digest is Size bytes'
	d.h.Write(p[:k])
	d.n += k
	if d.n == d.f.Size {
		d.done = true
		var sum []byte
		if d.async != nil {
			sum = d.async.Sum(nil)
		} else {
			sum = d.h.(hash.Hash).Sum(nil)
		}
		digest := "sha256:" + hex.EncodeToString(sum)
		d.f.once.Do(func() { d.f.digest = digest })
	}
	return n, err
}

func (d *digestingReader) Close() error {
	if d.async != nil {
		d.async.Close()
	}
	return d.r.Close()
}

// Context is a walked, filtered build context.
type Context struct {
	// Dir is the context's root directory.
	Dir string
	// Files are every file the ignore rules let in, sorted by path.
	Files []*File
	// Ignored are the paths the ignore rules kept out.
	Ignored []string
	byPath  map[string]*File
}

// ErrNoContext is returned for an empty context ("-").
var ErrNoContext = errors.New("no build context: the Dockerfile came from standard input")

// Empty is the context of a build with none (strata build -).
func Empty() *Context { return &Context{byPath: map[string]*File{}} }

// ReadIgnore reads the ignore file for a Dockerfile: FILE.dockerignore
// beside it if present, else .dockerignore at the context root. It
// returns the patterns and the file they came from ("" if none).
func ReadIgnore(dir, dockerfile string) ([]string, string, error) {
	candidates := []string{}
	if dockerfile != "" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(dir, ".dockerignore"))
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(b))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		return patterns, p, nil
	}
	return nil, "", nil
}

// Walk walks dir, leaving out what patterns exclude (Docker's
// .dockerignore rules, "!" exceptions included).
func Walk(dir string, patterns []string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	c := &Context{Dir: abs, byPath: map[string]*File{}}
	parents := map[string]patternmatcher.MatchInfo{}
	var entries []fs.DirEntry // entries[i] is c.Files[i]'s
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		excluded, info, err := pm.MatchesUsingParentResults(rel, parents[path.Dir(rel)])
		if err != nil {
			return err
		}
		if d.IsDir() {
			parents[rel] = info
		}
		if excluded {
			c.Ignored = append(c.Ignored, rel)
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		f := &File{Path: rel, abs: p}
		c.Files = append(c.Files, f)
		c.byPath[rel] = f
		entries = append(entries, d)
		return nil
	})
	if err == nil {
		// One lstat per file: on every core, since a context of thousands
		// of files spends most of its walk in them.
		err = parallel(len(c.Files), func(i int) error { return c.Files[i].stat(entries[i]) })
	}
	if err != nil {
		return nil, fmt.Errorf("walk build context: %w", err)
	}
	sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].Path < c.Files[j].Path })
	return c, nil
}

// stat fills in what lstat says of the file (and a link's target).
func (f *File) stat(d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	f.Mode, f.Size, f.modTime = fi.Mode(), fi.Size(), fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.UID, f.GID = int(st.Uid), int(st.Gid)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if f.Link, err = os.Readlink(f.abs); err != nil {
			return err
		}
	}
	return nil
}

// Lookup finds one path of the context.
func (c *Context) Lookup(p string) (*File, bool) {
	f, ok := c.byPath[p]
	return f, ok
}

// Under lists f and, for a directory, everything below it, sorted.
func (c *Context) Under(p string) []*File {
	if p == "" || p == "." {
		return c.Files
	}
	var out []*File
	for _, f := range c.Files {
		if f.Path == p || strings.HasPrefix(f.Path, p+"/") {
			out = append(out, f)
		}
	}
	return out
}

// Match resolves one COPY/ADD source (a path or a glob, relative to the
// root) to the context paths it names.
func (c *Context) Match(src string) ([]string, error) {
	clean := path.Clean("/" + filepath.ToSlash(src))
	if strings.HasPrefix(path.Clean(filepath.ToSlash(src)), "../") || path.Clean(filepath.ToSlash(src)) == ".." {
		return nil, fmt.Errorf("%s: forbidden path outside the build context", src)
	}
	rel := strings.TrimPrefix(clean, "/")
	if rel == "" {
		return []string{"."}, nil
	}
	if !strings.ContainsAny(rel, "*?[") {
		if _, ok := c.byPath[rel]; ok {
			return []string{rel}, nil
		}
		if c.excluded(rel) {
			return nil, fmt.Errorf("%s: excluded by .dockerignore", src)
		}
		return nil, fmt.Errorf("%s: not found in the build context", src)
	}
	var out []string
	for _, f := range c.Files {
		if ok, _ := path.Match(rel, f.Path); ok {
			out = append(out, f.Path)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no file in the build context matches", src)
	}
	return out, nil
}

func (c *Context) excluded(rel string) bool {
	for _, p := range c.Ignored {
		if p == rel || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}
