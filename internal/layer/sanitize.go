package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Stats counts what a copy saw.
type Stats struct {
	Entries int
	Bytes   int64 // file content bytes
}

// EntryError names the tar entry that was refused and why.
type EntryError struct {
	Name string
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Errors for entries a layer must not hold.
var (
	ErrEscapes       = errors.New("path escapes the root filesystem")
	ErrBelowSymlink  = errors.New("path goes through a symbolic link in the same archive")
	ErrDanglingLink  = errors.New("hard link target is not in the archive")
	ErrNotAnArchive  = errors.New("not a tar archive")
	ErrEmptyArchive  = errors.New("empty input: not a tar archive")
	ErrTruncated     = errors.New("archive is truncated or corrupt")
	ErrUnsupportedTy = errors.New("unsupported entry type")
)

// CleanName turns a tar entry name into a clean path relative to the root
// ("./usr/bin/" and "/usr/bin" become "usr/bin"), or fails if it climbs
// out of the root. The root itself is "".
func CleanName(name string) (string, error) {
	p := path.Clean("/" + name)
	// path.Clean of an absolute path never climbs above "/", so look at
	// the original for ".." that would have.
	depth := 0
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", ErrEscapes
			}
		default:
			depth++
		}
	}
	return strings.TrimPrefix(p, "/"), nil
}

// Sanitize copies the tar stream r to w entry by entry, in order, making
// every name relative and clean, dropping access and change times, and
// refusing what a root filesystem must not contain: names or hard links
// that climb out of the root, entries that go through a symbolic link made
// earlier in the same archive, hard links to files the archive lacks.
// Symbolic link targets are kept as they are: they are resolved inside the
// container's root when the layer is unpacked, never on the host.
func Sanitize(r io.Reader, w io.Writer) (Stats, error) {
	var st Stats
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	symlinks := map[string]bool{}
	seen := map[string]bool{}
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && st.Entries == 0 {
			return st, fmt.Errorf("%w (%v)", ErrNotAnArchive, err)
		}
		if err != nil {
			return st, readError(err)
		}
		name, err := CleanName(hdr.Name)
		if err != nil {
			return st, &EntryError{hdr.Name, err}
		}
		if name == "" {
			continue // the root directory itself
		}
		if dir := symlinkAncestor(name, symlinks); dir != "" {
			return st, &EntryError{hdr.Name, fmt.Errorf("%w %q", ErrBelowSymlink, dir)}
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeLink:
		case tar.TypeRegA:
			hdr.Typeflag = tar.TypeReg
		default:
			return st, &EntryError{hdr.Name, fmt.Errorf("%w %q", ErrUnsupportedTy, hdr.Typeflag)}
		}
		if hdr.Typeflag == tar.TypeLink {
			target, err := CleanName(hdr.Linkname)
			if err != nil || target == "" {
				return st, &EntryError{hdr.Name, fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrEscapes)}
			}
			if !seen[target] {
				return st, &EntryError{hdr.Name, fmt.Errorf("%w: %q", ErrDanglingLink, hdr.Linkname)}
			}
			hdr.Linkname = target
		}
		if hdr.Typeflag == tar.TypeSymlink {
			symlinks[name] = true
		} else {
			delete(symlinks, name)
		}
		seen[name] = true
		if hdr.Typeflag == tar.TypeDir {
			name += "/"
		}
		hdr.Name = name
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return st, &EntryError{hdr.Name, err}
		}
		n, err := io.CopyBuffer(tw, tr, buf)
		st.Bytes += n
		if err != nil {
			return st, readError(err)
		}
		st.Entries++
	}
	if err := tw.Close(); err != nil {
		return st, err
	}
	return st, nil
}

// symlinkAncestor returns the first proper ancestor of name that is a
// symbolic link, or "".
func symlinkAncestor(name string, symlinks map[string]bool) string {
	if len(symlinks) == 0 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && symlinks[name[:i]] {
			return name[:i]
		}
	}
	return ""
}

// readError explains a failure to read the archive past its first entry.
func readError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of data", ErrTruncated)
	case errors.Is(err, tar.ErrHeader):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return err
}
