package runtime

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts lowers (topmost first, read-only) under the writable
// upper directory at target.
func mountOverlay(lowers []string, upper, work, target string) error {
	for _, l := range lowers {
		if strings.ContainsAny(l, ":,") {
			return fmt.Errorf("mount overlay: layer path %q has a ':' or ','", l)
		}
	}
	data := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(data) >= os.Getpagesize()-1 {
		return fmt.Errorf("mount overlay: %d layers make the mount options too long", len(lowers))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", target, err)
	}
	return nil
}
