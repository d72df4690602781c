// Package cache is strata's build cache: a step's key is a digest of its
// parent's key, its instruction after ARG/ENV expansion, and the digests of
// its inputs; a record under that key holds what the step produced. Beside
// the records it keeps, for each step of each build, the inputs it last
// saw, so a rebuild can say why it missed.
//
// The key format is versioned: a record written under one format is never
// read under another.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
)

// keyVersion is mixed into every key; change it when the meaning of a key
// changes, so old records simply stop matching.
const keyVersion = "strata-build-cache-v1"

// Key is a step's cache key, "sha256:HEX".
type Key string

// Inputs are what a step's key is made of.
type Inputs struct {
	// Parent is the key of the step before (or of the base image).
	Parent Key
	// Instruction is the instruction after ARG/ENV expansion.
	Instruction string
	// Args are the build arguments in scope that the step depends on.
	Args map[string]string
	// Files are the context paths the step reads and their digests
	// (content, mode, owner; never times).
	Files map[string]string
	// Extra is anything else that changes the result (flags, platform).
	Extra []string
}

// Key digests the inputs.
func (in Inputs) Key() Key {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nparent %s\ninstruction %q\n", keyVersion, in.Parent, in.Instruction)
	for _, k := range sortedKeys(in.Args) {
		fmt.Fprintf(h, "arg %q=%q\n", k, in.Args[k])
	}
	for _, k := range sortedKeys(in.Files) {
		fmt.Fprintf(h, "file %q %s\n", k, in.Files[k])
	}
	for _, e := range in.Extra {
		fmt.Fprintf(h, "extra %q\n", e)
	}
	return Key("sha256:" + hex.EncodeToString(h.Sum(nil)))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Record is what a step produced.
type Record struct {
	Key Key
	// Layer is the filesystem layer the step added, if any.
	Layer  *v1.Descriptor `json:",omitempty"`
	DiffID *v1.Hash       `json:",omitempty"`
	// Created is when the step first ran.
	Created time.Time
}

// Cache is the build cache in a store directory.
type Cache struct {
	dir string
	cs  content.Store
}

// Open opens the cache kept under root/buildcache.
func Open(root string, cs content.Store) (*Cache, error) {
	c := &Cache{dir: filepath.Join(root, "buildcache"), cs: cs}
	for _, d := range []string{"records", "steps"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("open build cache: %w", err)
		}
	}
	return c, nil
}

func (c *Cache) recordPath(k Key) string {
	return filepath.Join(c.dir, "records", strings.TrimPrefix(string(k), "sha256:")+".json")
}

// Get returns the record for k. A record whose layer blob has gone (or is
// damaged in size) is a miss, never a reuse of missing content.
func (c *Cache) Get(ctx context.Context, k Key) (*Record, bool) {
	b, err := content.ReadFile(c.recordPath(k))
	if err != nil {
		return nil, false
	}
	var r Record
	if json.Unmarshal(b, &r) != nil || r.Key != k {
		return nil, false
	}
	if r.Layer != nil {
		if r.DiffID == nil {
			return nil, false
		}
		info, err := c.cs.Info(ctx, r.Layer.Digest)
		if err != nil || info.Size != r.Layer.Size {
			return nil, false
		}
	}
	return &r, true
}

// Put stores a record. Records are hints, written without fsync: one lost
// to a crash is a cache miss, and one that names a missing layer is too.
func (c *Cache) Put(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return content.ReplaceFile(c.recordPath(r.Key), b, 0o644)
}

// Layers lists the layer of every record, for the store to keep.
func (c *Cache) Layers(ctx context.Context) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	err := c.walk(func(_ string, r *Record) error {
		if r.Layer != nil {
			out = append(out, *r.Layer)
		}
		return nil
	})
	return out, err
}

// Prune removes every record whose layer is not in keep (the blobs named
// images use), and unreadable records. Records without a layer (metadata
// steps) are a few hundred bytes and stay, so that rebuilding an image
// that is still named finds every step. It returns how many records it
// removed.
func (c *Cache) Prune(ctx context.Context, keep map[v1.Hash]bool) (int, error) {
	n := 0
	err := c.walk(func(p string, r *Record) error {
		if r != nil && (r.Layer == nil || keep[r.Layer.Digest]) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, nil
}

func (c *Cache) walk(fn func(path string, r *Record) error) error {
	dir := filepath.Join(c.dir, "records")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		var r *Record
		if b, err := os.ReadFile(p); err == nil {
			var rec Record
			if json.Unmarshal(b, &rec) == nil {
				r = &rec
			}
		}
		if err := fn(p, r); err != nil {
			return err
		}
	}
	return nil
}
