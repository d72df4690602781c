package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Whiteout names, as the OCI image spec writes them in layer tars.
const (
	// WhiteoutPrefix marks the deletion of the name that follows it.
	WhiteoutPrefix = ".wh."
	// WhiteoutMetaPrefix marks names that are whiteout metadata, not files.
	WhiteoutMetaPrefix = ".wh..wh."
	// WhiteoutOpaque in a directory hides everything lower layers have there.
	WhiteoutOpaque = ".wh..wh..opq"
)

// Overlayfs's own marks in an upper or lower directory.
const (
	// OverlayOpaqueXattr set to "y" makes a directory opaque.
	OverlayOpaqueXattr = "trusted.overlay.opaque"
	// overlayXattrPrefix names the xattrs overlayfs reserves; a layer tar
	// must not set them, and a diff must not copy them.
	overlayXattrPrefix = "trusted.overlay."
)

// paxXattr is the PAX record prefix for extended attributes.
const paxXattr = "SCHILY.xattr."

// Apply extracts a layer tar stream (plain, gzip or zstd) into dir, a
// snapshot's own directory, and returns the number of bytes of file
// content written. It reads r to its end, so a verifying reader gets to
// check its digest.
//
// Every name is resolved inside dir: names climbing out with ".." or
// absolute names are confined to dir, symbolic links met on the way are
// resolved as if dir were the root (github.com/cyphar/filepath-securejoin),
// and hard links may only point at files already inside dir. Nothing
// outside dir is created, changed or followed.
//
// OCI whiteouts become overlayfs whiteouts: ".wh.NAME" a 0/0 character
// device NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque="y" on its
// directory. Ownership, modes (setuid included), extended attributes (file
// capabilities included) and modification times are kept; device nodes
// and fifos are created. The caller must be root.
func Apply(ctx context.Context, dir string, r io.Reader) (int64, error) {
	tarStream, _, err := Decompress(r)
	if err != nil {
		return 0, fmt.Errorf("apply layer: %w", err)
	}
	defer tarStream.Close()
	root, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("apply layer: %w", err)
	}
	if fi, err := os.Lstat(root); err != nil {
		return 0, fmt.Errorf("apply layer: %w", err)
	} else if !fi.IsDir() {
		return 0, fmt.Errorf("apply layer: %s is not a directory", root)
	}
	ra := newReadahead(tarStream)
	defer ra.Close()
	buf := getBlock()
	defer putBlock(buf)
	a := &applier{root: root, w: newFileWriter(), umask: umask(), euid: os.Geteuid(), egid: os.Getegid()}
	a.forget()
	err = a.run(ctx, ra)
	if werr := a.w.Close(); err == nil {
		err = werr
	}
	if err == nil {
		err = a.setDirTimes()
	}
	if err != nil {
		return a.w.size.Load(), err
	}
	// Read to the end: trailing padding, and the verifier's check.
	if _, err := io.CopyBuffer(io.Discard, ra, buf); err != nil {
		return a.w.size.Load(), fmt.Errorf("apply layer: %w", err)
	}
	return a.w.size.Load(), nil
}

// applier holds the state of one extraction.
type applier struct {
	root string
	// dirs maps names of directories known to be real directories inside
	// root (made or checked during this extraction) to their paths, so
	// most entries need no symlink resolution. Cleared whenever anything
	// is removed or replaced.
	dirs map[string]dirInfo
	// umask, euid and egid tell which files come out of creation with the
	// mode and owner their entries want, needing no chmod or chown.
	umask      uint32
	euid, egid int
	// times are the directories whose times are set last, once nothing
	// more is written into them.
	times []*tar.Header
	// w fills the regular files.
	w *fileWriter
}

func (a *applier) run(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return fmt.Errorf("%w (%v)", ErrNotAnArchive, err)
			}
			return readError(err)
		}
		if err := a.entry(hdr, tr); err != nil {
			var ee *EntryError
			if errors.As(err, &ee) {
				return err // the file writer's, naming its own entry
			}
			return &EntryError{Name: hdr.Name, Err: err}
		}
	}
	return nil
}

// confine makes name a clean path relative to the root, dropping any ".."
// that would climb above it: "../../tmp/x" and "/tmp/x" both become
// "tmp/x". The root itself is "".
func confine(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// entry extracts one tar entry.
func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	name := confine(hdr.Name)
	if name == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the root must be a directory")
		}
		if err := a.setMeta(a.root, hdr); err != nil {
			return err
		}
		a.times = append(a.times, withName(hdr, ""))
		return nil
	}
	dirName, base := path.Split(name)
	dirName = strings.TrimSuffix(dirName, "/")
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return a.whiteout(dirName, base, hdr)
	}
	parent, err := a.dirInfo(dirName)
	if err != nil {
		return err
	}
	p := filepath.Join(parent.path, base)
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.mkdir(name, p, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return a.file(p, parent.setgid, hdr, r)
	case tar.TypeSymlink:
		return a.symlink(p, hdr)
	case tar.TypeLink:
		return a.hardlink(p, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.node(p, hdr)
	}
	return fmt.Errorf("%w %q", ErrUnsupportedTy, hdr.Typeflag)
}

// withName is a copy of hdr named name, kept for setting times later.
func withName(hdr *tar.Header, name string) *tar.Header {
	h := *hdr
	h.Name = name
	h.PAXRecords = nil
	return &h
}

// dir returns the path of directory name inside the root, creating it
// (and its parents, mode 0755) if missing, following symbolic links as if
// the root were "/".
func (a *applier) dir(name string) (string, error) {
	d, err := a.dirInfo(name)
	return d.path, err
}

// dirInfo is dir with what new files in the directory inherit.
func (a *applier) dirInfo(name string) (dirInfo, error) {
	if d, ok := a.dirs[name]; ok {
		return d, nil
	}
	p, err := a.resolveDir(name)
	if err != nil {
		return dirInfo{}, err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return dirInfo{}, err
	}
	d := dirInfo{path: p, setgid: st.Mode&unix.S_ISGID != 0}
	a.dirs[name] = d
	return d, nil
}

// dirInfo is a directory known to be real and inside the root.
type dirInfo struct {
	path string
	// setgid directories give new files their group.
	setgid bool
}

// forget drops every resolved directory but the root.
func (a *applier) forget() {
	if a.dirs == nil {
		a.dirs = map[string]dirInfo{}
	}
	clear(a.dirs)
	a.dirs[""] = dirInfo{path: a.root}
	var st unix.Stat_t
	if unix.Lstat(a.root, &st) == nil {
		a.dirs[""] = dirInfo{path: a.root, setgid: st.Mode&unix.S_ISGID != 0}
	}
}

// resolveDir finds directory name inside the root, following symbolic
// links as if the root were "/", and makes it if missing.
func (a *applier) resolveDir(name string) (string, error) {
	p, err := securejoin.SecureJoin(a.root, name)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", name, err)
	}
	if !within(a.root, p) {
		return "", fmt.Errorf("resolve %q: %w", name, ErrEscapes)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", err
	}
	if fi, err := os.Lstat(p); err != nil {
		return "", err
	} else if !fi.IsDir() {
		return "", fmt.Errorf("%q is not a directory", name)
	}
	return p, nil
}

// within says whether p is root or below it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// clear removes whatever is at p (not following a final symbolic link),
// and forgets every directory resolved so far if anything was removed.
// keepDir keeps an existing directory (a directory entry over one merges).
func (a *applier) clear(p string, keepDir bool) (exists bool, err error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if keepDir && fi.IsDir() {
		return true, nil
	}
	if fi.IsDir() {
		err = os.RemoveAll(p)
	} else {
		err = unix.Unlink(p)
	}
	if err != nil {
		return false, fmt.Errorf("replace: %w", err)
	}
	a.forget()
	return false, nil
}

// whiteout turns ".wh.NAME" into an overlayfs whiteout for NAME and
// ".wh..wh..opq" into an opaque directory.
func (a *applier) whiteout(dirName, base string, hdr *tar.Header) error {
	if base == WhiteoutOpaque {
		p, err := a.dir(dirName)
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(p, OverlayOpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("make %q opaque: %w", dirName, err)
		}
		return nil
	}
	if strings.HasPrefix(base, WhiteoutMetaPrefix) {
		return nil // aufs metadata (.wh..wh.plnk, ...): nothing to do
	}
	target := strings.TrimPrefix(base, WhiteoutPrefix)
	if target == "" || target == "." || target == ".." || strings.Contains(target, "/") {
		return fmt.Errorf("whiteout of %q: %w", target, ErrEscapes)
	}
	parent, err := a.dir(dirName)
	if err != nil {
		return err
	}
	p := filepath.Join(parent, target)
	if err := a.create(p, func() error { return unix.Mknod(p, unix.S_IFCHR, 0) }); err != nil {
		return fmt.Errorf("whiteout: %w", err)
	}
	return setTimes(p, hdr)
}

// setDirTimes sets the directories' times, deepest first, once their
// contents are complete.
func (a *applier) setDirTimes() error {
	sort.SliceStable(a.times, func(i, j int) bool {
		return strings.Count(a.times[i].Name, "/") > strings.Count(a.times[j].Name, "/")
	})
	for _, hdr := range a.times {
		p := a.root
		if hdr.Name != "" {
			var err error
			if p, err = securejoin.SecureJoin(a.root, hdr.Name); err != nil {
				return &EntryError{Name: hdr.Name, Err: err}
			}
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue // replaced later in the archive
		}
		if err := setTimes(p, hdr); err != nil {
			return &EntryError{Name: hdr.Name, Err: err}
		}
	}
	return nil
}

// umask reads the process's umask without changing it (which would race
// with other goroutines), or says 0777 if it cannot.
func umask() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}
