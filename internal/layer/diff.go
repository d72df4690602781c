package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// DiffOptions adjust WriteDiff.
type DiffOptions struct {
	// SourceDateEpoch, when not nil, clamps every modification time to it
	// (reproducible builds: builds set it, to the Unix epoch unless told
	// otherwise; commit leaves it nil and keeps the files' times).
	SourceDateEpoch *time.Time
}

// Overlayfs xattrs that a diff cannot express: an upper directory using
// them was mounted with features strata turns off.
var unsupportedOverlayXattrs = []string{"trusted.overlay.redirect", "trusted.overlay.metacopy"}

// overlayWhiteoutXattr marks a zero-size regular file as a whiteout (the
// form overlayfs uses where it cannot make a 0/0 device).
const overlayWhiteoutXattr = "trusted.overlay.whiteout"

// WriteDiff writes the overlay upper directory upper to w as an
// uncompressed OCI layer tar and returns its diff ID (the sha256 of the
// tar) and size. Whiteouts (0/0 character devices) become ".wh.NAME",
// opaque directories get ".wh..wh..opq", files with several names inside
// upper are written once and then as hard links. The output is
// deterministic: entries sorted by name, directory by directory; times to
// the second, clamped to opts.SourceDateEpoch when set; no access or
// change times, user or group names. Owner, mode and extended attributes
// (file capabilities included; overlayfs's and SELinux's own left out)
// are kept.
func WriteDiff(ctx context.Context, upper string, w io.Writer, opts DiffOptions) (v1.Hash, int64, error) {
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	d := &differ{ctx: ctx, upper: upper, tw: tar.NewWriter(cw), opts: opts,
		links: map[inode]string{}, buf: make([]byte, 1<<20)}
	if err := d.walk("", upper); err != nil {
		return v1.Hash{}, cw.n, fmt.Errorf("diff %s: %w", upper, err)
	}
	if err := d.tw.Close(); err != nil {
		return v1.Hash{}, cw.n, fmt.Errorf("diff %s: %w", upper, err)
	}
	return hashOf(h), cw.n, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type inode struct{ dev, ino uint64 }

type differ struct {
	ctx   context.Context
	upper string
	tw    *tar.Writer
	opts  DiffOptions
	links map[inode]string
	buf   []byte
}

// walk writes the entries of directory dir (name rel, "" for the root),
// sorted, each directory followed by its contents.
func (d *differ) walk(rel, dir string) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	for _, base := range names {
		name := base
		if rel != "" {
			name = rel + "/" + base
		}
		p := filepath.Join(dir, base)
		if err := d.entry(name, p); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// entry writes one path (and, for a directory, what it holds).
func (d *differ) entry(name, p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	xattrs, err := readXattrs(p)
	if err != nil {
		return err
	}
	for _, x := range unsupportedOverlayXattrs {
		if _, ok := xattrs[x]; ok {
			return fmt.Errorf("overlayfs %s is set: mount the upper directory with redirect_dir=off,metacopy=off", x)
		}
	}
	dir, base := filepath.Split(name)
	mtime := d.clamp(time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)))
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0,
		st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 && hasKey(xattrs, overlayWhiteoutXattr):
		return d.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + WhiteoutPrefix + base, ModTime: mtime})
	case st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		return nil // sockets are not part of a file system image
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
	}
	for k, v := range xattrs {
		if strings.HasPrefix(k, overlayXattrPrefix) || k == "security.selinux" {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+k] = v
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		if err := d.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if xattrs[OverlayOpaqueXattr] == "y" {
			opq := &tar.Header{Typeflag: tar.TypeReg, Name: name + "/" + WhiteoutOpaque, ModTime: mtime}
			if err := d.tw.WriteHeader(opq); err != nil {
				return err
			}
		}
		return d.walk(name, p)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	default:
		return fmt.Errorf("%w: mode %o", ErrUnsupportedTy, st.Mode)
	}
	if st.Nlink > 1 {
		key := inode{uint64(st.Dev), st.Ino}
		if first, ok := d.links[key]; ok {
			return d.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: first,
				Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid, ModTime: mtime})
		}
		d.links[key] = name
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		return d.copyFile(p, hdr.Size)
	}
	return nil
}

// copyFile writes exactly size bytes of the file at p.
func (d *differ) copyFile(p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(d.tw, io.LimitReader(f, size), d.buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("file shrank while read: %d of %d bytes", n, size)
	}
	return nil
}

// clamp truncates t to the second and clamps it to SourceDateEpoch.
func (d *differ) clamp(t time.Time) time.Time {
	t = t.Truncate(time.Second)
	if e := d.opts.SourceDateEpoch; e != nil && t.After(*e) {
		t = e.Truncate(time.Second)
	}
	return t.UTC()
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// readXattrs reads every extended attribute of p, not following a final
// symbolic link.
func readXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	out := map[string]string{}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if k == "" {
			continue
		}
		v, err := getXattr(p, k)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func getXattr(p, k string) (string, error) {
	size, err := unix.Lgetxattr(p, k, nil)
	if err != nil {
		return "", err
	}
	buf := make([]byte, size)
	size, err = unix.Lgetxattr(p, k, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:size]), nil
}
