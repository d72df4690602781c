package runtime

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/snapshot"
)

// mountRootfs mounts a container's root filesystem: lowers (topmost
// first) under the writable upper directory, as snapshot.Mount does.
// With volatile, overlayfs skips its syncs of the upper directory's file
// system (its fsyncs, and the syncfs on unmount, which on a busy disk
// costs more than the whole container run): for what is discarded on
// exit (a --rm container), where durability buys nothing. A volatile
// overlay's work directory cannot be mounted again after a crash; the
// container is removed anyway.
func mountRootfs(lowers []string, upper, work, target string, volatile bool) error {
	if volatile && mountVolatile(lowers, upper, work, target) == nil {
		return nil
	}
	return snapshot.Mount(lowers, upper, work, target)
}

// mountVolatile mounts with overlayfs's "volatile" option and the same
// features snapshot.Mount turns off (so that the upper directory stays a
// plain diff). It fails when the options exceed a page or the kernel lacks
// the option (before 5.10); the caller then mounts without it.
func mountVolatile(lowers []string, upper, work, target string) error {
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("path %q needs escaping", p)
		}
	}
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work +
		",index=off,redirect_dir=off,metacopy=off,volatile"
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mount options too long")
	}
	return unix.Mount("overlay", target, "overlay", 0, opts)
}
