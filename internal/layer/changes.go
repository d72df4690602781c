package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// ChangeKind is what happened to a path, as `docker diff` prints it.
type ChangeKind string

// The kinds of change.
const (
	Added   ChangeKind = "A"
	Changed ChangeKind = "C"
	Deleted ChangeKind = "D"
)

// Change is one path an upper directory adds, changes or deletes.
type Change struct {
	Kind ChangeKind
	// Path is absolute, as seen inside the container ("/etc/hosts").
	Path string
}

// String is the line `docker diff` prints: "C /etc".
func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Changes lists what the overlay upper directory upper adds (A), changes
// (C) and deletes (D) relative to lowers (topmost first), sorted by path,
// as `docker diff` prints them: a directory the lowers have too is
// changed if its mode, owner or modification time changed or something
// was added to or deleted from it; every path below an added directory is
// added; a deleted directory is one line. An opaque directory is changed,
// and deletes whatever the lowers had in it that upper does not have again
// (docker diff would print it deleted, then its contents added).
func Changes(upper string, lowers []string) ([]Change, error) {
	c := &changer{lowers: lowers, views: map[string][]int{}}
	all := make([]int, len(lowers))
	for i := range all {
		all[i] = i
	}
	c.views[""] = all
	if _, err := c.walk("", upper, true); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	sort.Slice(c.out, func(i, j int) bool { return c.out[i].Path < c.out[j].Path })
	return c.out, nil
}

type changer struct {
	lowers []string
	// views maps a directory name to the lowers (by index) where it is a
	// real directory still visible through the ones above it.
	views map[string][]int
	out   []Change
}

// walk reports the contents of upper directory dir (name rel). inLower
// says whether rel is a directory the lowers show. It returns whether it
// added or deleted anything directly in dir.
func (c *changer) walk(rel, dir string, inLower bool) (bool, error) {
	names, err := readDirNames(dir)
	if err != nil {
		return false, err
	}
	addedOrDeleted := false
	for _, base := range names {
		name := join(rel, base)
		p := filepath.Join(dir, base)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return false, err
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		whiteout := st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
		if !whiteout && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
			if _, err := getXattr(p, overlayWhiteoutXattr); err == nil {
				whiteout = true
			}
		}
		exists := inLower && c.lowerHas(rel, base)
		switch {
		case whiteout:
			if exists {
				c.add(Deleted, name)
				addedOrDeleted = true
			}
			continue
		case !exists:
			c.add(Added, name)
			addedOrDeleted = true
		case !isDir || !c.lowerIsDir(name):
			c.add(Changed, name)
		}
		if !isDir {
			continue
		}
		if !exists {
			if _, err := c.walk(name, p, false); err != nil {
				return false, err
			}
			continue
		}
		if !c.lowerIsDir(name) {
			// A directory where the lowers have a file: all new below.
			if _, err := c.walk(name, p, false); err != nil {
				return false, err
			}
			continue
		}
		// A directory the lowers have too: changed if its own metadata
		// changed, it is opaque, or something in it was added or deleted
		// (as docker diff decides).
		changed := !c.sameDir(name, &st)
		if v, err := getXattr(p, OverlayOpaqueXattr); err == nil && v == "y" {
			changed = true
			if err := c.hidden(name, p); err != nil {
				return false, err
			}
			_, err = c.walk(name, p, false)
			if err != nil {
				return false, err
			}
		} else {
			inner, err := c.walk(name, p, true)
			if err != nil {
				return false, err
			}
			changed = changed || inner
		}
		if changed {
			c.add(Changed, name)
		}
	}
	return addedOrDeleted, nil
}

// sameDir says whether the upper directory's metadata (mode, owner,
// modification time) is the lowers' directory name's.
func (c *changer) sameDir(name string, st *unix.Stat_t) bool {
	v := c.view(name)
	if len(v) == 0 {
		return false
	}
	var lst unix.Stat_t
	if err := unix.Lstat(filepath.Join(c.lowers[v[0]], name), &lst); err != nil {
		return false
	}
	return lst.Mode == st.Mode && lst.Uid == st.Uid && lst.Gid == st.Gid && lst.Mtim == st.Mtim
}

// hidden reports as deleted what the lowers show in directory name that
// the opaque upper directory p does not hold again.
func (c *changer) hidden(name, p string) error {
	shown := map[string]bool{}
	for _, i := range c.view(name) {
		entries, err := readDirNames(filepath.Join(c.lowers[i], name))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if shown[e] {
				continue
			}
			shown[e] = true
			if c.lowerHas(name, e) {
				if _, err := os.Lstat(filepath.Join(p, e)); errors.Is(err, os.ErrNotExist) {
					c.add(Deleted, join(name, e))
				}
			}
		}
	}
	return nil
}

func (c *changer) add(k ChangeKind, name string) {
	c.out = append(c.out, Change{Kind: k, Path: "/" + name})
}

func join(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}

// lowerHas says whether the lowers show dir/base: the topmost lower with
// an entry for it decides, a whiteout there hiding it.
func (c *changer) lowerHas(dir, base string) bool {
	for _, i := range c.view(dir) {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(c.lowers[i], dir, base), &st); err != nil {
			continue
		}
		return !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0)
	}
	return false
}

// lowerIsDir says whether the lowers show name as a directory.
func (c *changer) lowerIsDir(name string) bool { return len(c.view(name)) > 0 }

// view returns the lowers, topmost first, in which directory name is a
// real directory that the lowers above do not hide; it stops at the
// first where the directory is opaque.
func (c *changer) view(name string) []int {
	if v, ok := c.views[name]; ok {
		return v
	}
	parent, base := filepath.Split(name)
	parent = filepath.Clean(parent)
	if parent == "." {
		parent = ""
	}
	var v []int
	for _, i := range c.view(parent) {
		p := filepath.Join(c.lowers[i], parent, base)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue // absent here: look lower
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			break // a file or whiteout hides the lowers below
		}
		v = append(v, i)
		if o, err := getXattr(p, OverlayOpaqueXattr); err == nil && o == "y" {
			break
		}
	}
	c.views[name] = v
	return v
}
