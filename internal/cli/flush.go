package cli

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/snapshot"
)

// newFlushCmd is the hidden `strata flush-snapshots` that run and build
// start in the background after unpacking layers: it writes the new
// snapshots to disk and clears their pending marks, so that a later boot
// trusts them. Until it has, a crash of the machine only costs unpacking
// them again.
func newFlushCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:    "flush-snapshots",
		Short:  "Write newly unpacked layers to disk (started by run and build)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := filepath.Abs(o.root)
			if err != nil {
				return err
			}
			ss, err := snapshot.OpenExisting(root)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the store is gone: nothing to flush
			}
			if err != nil {
				return err
			}
			return ss.Flush(cmd.Context())
		},
	}
}

// flushLater starts `strata flush-snapshots` in a session of its own and
// does not wait for it: the layers just unpacked go to disk while the
// container runs, and after this process has exited.
func flushLater(o *options) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return
	}
	closeOnExec() // it inherits nothing a caller could wait on
	cmd := exec.Command(self, "--root", root, "flush-snapshots")
	cmd.Dir = "/" // nor the caller's directory, which may be a mount to undo
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = os.Environ()
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}
