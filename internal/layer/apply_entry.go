package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// mkdir makes (or keeps) the directory name at p.
func (a *applier) mkdir(name, p string, hdr *tar.Header) error {
	err := unix.Mkdir(p, 0o700)
	if err == unix.EEXIST {
		var exists bool
		if exists, err = a.clear(p, true); err == nil && !exists {
			err = unix.Mkdir(p, 0o700)
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := a.setMeta(p, hdr); err != nil {
		return err
	}
	a.dirs[name] = dirInfo{path: p, setgid: hdr.Mode&unix.S_ISGID != 0}
	a.times = append(a.times, withName(hdr, name))
	return nil
}

// create runs mk (which makes something new at p) and, if something is
// there already, removes it and runs mk again.
func (a *applier) create(p string, mk func() error) error {
	err := mk()
	if err == unix.EEXIST {
		if _, err = a.clear(p, false); err == nil {
			err = mk()
		}
	}
	return err
}

// file creates a regular file at p (in a directory that is setgid or
// not) and hands its content, owner, mode, xattrs and times to the file
// writer, piece by piece.
func (a *applier) file(p string, setgid bool, hdr *tar.Header, r io.Reader) error {
	perm := uint32(hdr.Mode & 0o777)
	meta := fileMeta{
		chown: hdr.Uid != a.euid || hdr.Gid != a.egid || setgid,
		chmod: hdr.Mode&0o7000 != 0 || perm&a.umask != 0,
	}
	fd := -1
	err := a.create(p, func() (err error) {
		fd, err = unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	left := hdr.Size
	for {
		buf := getBlock()
		if left < int64(len(buf)) {
			buf = buf[:left]
		}
		n, rerr := io.ReadFull(r, buf)
		left -= int64(n)
		if rerr != nil {
			putBlock(buf)
			a.w.send(fileJob{fd: fd, hdr: hdr, last: true, abort: true})
			return readError(rerr)
		}
		last := left == 0
		if err := a.w.send(fileJob{fd: fd, data: buf, hdr: hdr, last: last, meta: meta}); err != nil {
			if !last {
				a.w.send(fileJob{fd: fd, hdr: hdr, last: true, abort: true})
			}
			return err
		}
		if last {
			return nil
		}
	}
}

// symlink makes a symbolic link at p. Its target is stored as it is: it
// is resolved inside the container, never here.
func (a *applier) symlink(p string, hdr *tar.Header) error {
	if err := a.create(p, func() error { return unix.Symlink(hdr.Linkname, p) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if err := a.setMeta(p, hdr); err != nil {
		return err
	}
	return setTimes(p, hdr)
}

// hardlink links p to a file the archive put inside the root earlier.
func (a *applier) hardlink(p string, hdr *tar.Header) error {
	target := confine(hdr.Linkname)
	if target == "" {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrEscapes)
	}
	dirName, base := path.Split(target)
	parent, err := securejoin.SecureJoin(a.root, dirName)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	old := filepath.Join(parent, base)
	if !within(a.root, old) {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrEscapes)
	}
	fi, err := os.Lstat(old)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrDanglingLink)
	}
	if fi.IsDir() {
		return fmt.Errorf("hard link to directory %q: %w", hdr.Linkname, ErrUnsupportedTy)
	}
	if old == p {
		return nil
	}
	if err := a.create(p, func() error { return unix.Linkat(unix.AT_FDCWD, old, unix.AT_FDCWD, p, 0) }); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

// node makes a character or block device or a fifo at p.
func (a *applier) node(p string, hdr *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := a.create(p, func() error { return unix.Mknod(p, mode|0o600, int(dev)) }); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	if err := a.setMeta(p, hdr); err != nil {
		return err
	}
	return setTimes(p, hdr)
}

// setMeta sets owner, mode and extended attributes, in that order (a
// change of owner clears setuid bits and file capabilities), without
// following a final symbolic link.
func (a *applier) setMeta(p string, hdr *tar.Header) error {
	if err := unix.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		mode := uint32(hdr.Mode & 0o7777)
		if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
			return fmt.Errorf("chmod %o: %w", mode, err)
		}
	}
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattr)
		if !ok || strings.HasPrefix(attr, overlayXattrPrefix) {
			continue // overlayfs's own marks come only from whiteouts
		}
		if err := unix.Lsetxattr(p, attr, []byte(value), 0); err != nil && !ignorableXattrError(attr, err) {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// ignorableXattrError says whether a failure to set an extended attribute
// may be ignored, as Docker does: a file system without support for it,
// or (for anything but file capabilities) a namespace it refuses.
func ignorableXattrError(attr string, err error) bool {
	if errors.Is(err, unix.ENOTSUP) {
		return true
	}
	return errors.Is(err, unix.EPERM) && attr != "security.capability"
}

// setTimes sets access and modification times without following a final
// symbolic link. A missing access time is the modification time.
func setTimes(p string, hdr *tar.Header) error {
	mtime := hdr.ModTime
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0}
	}
	return unix.NsecToTimespec(t.UnixNano())
}
