package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayFeatures turns off what a diff of the upper directory could not
// express (renamed directories as redirects, metadata-only copy-ups) and
// the inode index, which would tie shared lowers to one upper.
var overlayFeatures = [][2]string{{"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}}

// Mount mounts at target an overlay of lowers (topmost first) under the
// writable upper directory upper, with work as overlayfs's work directory
// (empty, on the same file system as upper). With upper "" the overlay is
// read-only. With no lowers, upper is bind-mounted; with one lower and no
// upper, the lower is bind-mounted read-only.
//
// Any number of lowers overlayfs allows (500) fits: layers are given one
// at a time through the new mount API (Linux 6.8 and later), or else in
// one option string of at most a page, naming layers by short
// /proc/self/fd/N paths when their own paths are too long.
func Mount(lowers []string, upper, work, target string) error {
	return MountWith(lowers, upper, work, target, MountOptions{})
}

// MountOptions adjust MountWith.
type MountOptions struct {
	// Volatile mounts the overlay with overlayfs's "volatile" option: no
	// syncs of the upper directory's file system (its fsyncs, and the
	// syncfs on unmount). For what is discarded on exit (a --rm container,
	// a build step's scratch); after a crash the work directory cannot be
	// mounted again. Ignored without an upper directory.
	Volatile bool
}

// MountWith is Mount with options.
func MountWith(lowers []string, upper, work, target string, opts MountOptions) error {
	switch {
	case len(lowers) == 0 && upper == "":
		return fmt.Errorf("mount %s: nothing to mount", target)
	case len(lowers) == 0:
		return bind(upper, target, false)
	case len(lowers) == 1 && upper == "":
		return bind(lowers[0], target, true)
	case upper != "" && work == "":
		return fmt.Errorf("mount %s: an upper directory needs a work directory", target)
	}
	features := overlayFeatures
	if opts.Volatile && upper != "" {
		features = append(features[:len(features):len(features)], [2]string{"volatile", ""})
	}
	err := mountFsopen(lowers, upper, work, target, features)
	if errors.Is(err, errNoNewAPI) {
		err = mountLegacy(lowers, upper, work, target, features)
	}
	if err != nil {
		return fmt.Errorf("mount overlay of %d layers at %s: %w", len(lowers), target, err)
	}
	return nil
}

// bind bind-mounts dir at target, read-only if asked.
func bind(dir, target string, readOnly bool) error {
	if err := unix.Mount(dir, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", dir, target, err)
	}
	if readOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("bind %s at %s read-only: %w", dir, target, err)
		}
	}
	return nil
}

// Unmount unmounts whatever is mounted at target (each of several stacked
// mounts), detaching lazily if a mount is busy. Unmounting what is not
// mounted, or a target that does not exist, is not an error.
func Unmount(target string) error {
	for range 32 {
		err := unix.Unmount(target, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(target, unix.MNT_DETACH)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 32 unmounts", target)
}

// errNoNewAPI says the kernel lacks fsopen(2) or overlayfs's "lowerdir+".
var errNoNewAPI = errors.New("no new mount API")

// maxFsconfigString is the longest string fsconfig(2) takes, less its NUL.
const maxFsconfigString = 255

// mountFsopen mounts with fsopen/fsconfig/fsmount/move_mount, adding each
// lower with "lowerdir+", so no option string limits the layer count.
func mountFsopen(lowers []string, upper, work, target string, features [][2]string) (err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return errNoNewAPI
		}
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	paths := &shortPaths{limit: maxFsconfigString}
	defer paths.close()
	set := func(key, value string) error {
		v, err := paths.short(value)
		if err != nil {
			return err
		}
		if err := unix.FsconfigSetString(fd, key, v); err != nil {
			return fmt.Errorf("%s=%s: %w%s", key, value, err, fsLog(fd))
		}
		return nil
	}
	for i, l := range lowers {
		err := set("lowerdir+", l)
		if err != nil && i == 0 && errors.Is(err, unix.EINVAL) {
			return errNoNewAPI // kernels before 6.8 do not know "lowerdir+"
		}
		if err != nil {
			return err
		}
	}
	if upper != "" {
		if err := set("upperdir", upper); err != nil {
			return err
		}
		if err := set("workdir", work); err != nil {
			return err
		}
	}
	for _, f := range features {
		var err error
		if f[1] == "" {
			err = unix.FsconfigSetFlag(fd, f[0])
		} else {
			err = unix.FsconfigSetString(fd, f[0], f[1])
		}
		if err != nil {
			return fmt.Errorf("%s=%s: %w%s", f[0], f[1], err, fsLog(fd))
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create: %w%s", err, fsLog(fd))
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w%s", err, fsLog(fd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// fsLog reads the messages the kernel left on an fsopen(2) context.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// mountLegacy mounts with mount(2) and one option string, which must fit
// in a page: paths too long for it are replaced by /proc/self/fd/N.
func mountLegacy(lowers []string, upper, work, target string, features [][2]string) error {
	pageSize := os.Getpagesize()
	opts := legacyOptions(lowers, upper, work, features, func(p string) (string, error) { return p, nil })
	if len(opts) < pageSize && !anyContains(",:", upper, work) && !anyContains(",:", lowers...) {
		return mountOverlay(target, opts)
	}
	paths := &shortPaths{limit: 0}
	defer paths.close()
	var short []string
	for _, l := range lowers {
		p, err := paths.short(l)
		if err != nil {
			return err
		}
		short = append(short, p)
	}
	opts = legacyOptions(short, upper, work, features, paths.short)
	if len(opts) >= pageSize {
		return fmt.Errorf("%d layers do not fit in one page of mount options", len(lowers))
	}
	return mountOverlay(target, opts)
}

func legacyOptions(lowers []string, upper, work string, features [][2]string, short func(string) (string, error)) string {
	var b strings.Builder
	for _, f := range features {
		if f[1] == "" {
			b.WriteString(f[0] + ",")
		} else {
			b.WriteString(f[0] + "=" + f[1] + ",")
		}
	}
	b.WriteString("lowerdir=" + strings.Join(lowers, ":"))
	if upper != "" {
		u, err1 := short(upper)
		w, err2 := short(work)
		if err1 != nil || err2 != nil {
			u, w = upper, work
		}
		b.WriteString(",upperdir=" + u + ",workdir=" + w)
	}
	return b.String()
}

func mountOverlay(target, opts string) error {
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount(2): %w", err)
	}
	return nil
}

// shortPaths names directories whose paths are longer than limit (or, with
// limit 0, every directory) by /proc/self/fd/N of an O_PATH descriptor,
// kept open until close.
type shortPaths struct {
	limit int
	fds   []int
}

func (s *shortPaths) short(p string) (string, error) {
	if s.limit > 0 && len(p) <= s.limit && !strings.ContainsAny(p, ",:") {
		return p, nil
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	s.fds = append(s.fds, fd)
	return "/proc/self/fd/" + strconv.Itoa(fd), nil
}

func (s *shortPaths) close() {
	for _, fd := range s.fds {
		unix.Close(fd)
	}
	s.fds = nil
}

// anyContains says whether any of paths contains any of the characters.
func anyContains(chars string, paths ...string) bool {
	for _, p := range paths {
		if strings.ContainsAny(p, chars) {
			return true
		}
	}
	return false
}
