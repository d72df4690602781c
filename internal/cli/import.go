package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/archive"
	"github.com/strata-ml/strata/internal/progress"
	"github.com/strata-ml/strata/internal/reference"
)

func newImportCmd(o *options) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Long: `Import a root filesystem tarball (plain, gzip, zstd or bzip2) as an image
with one layer, like docker import. Entries that would climb out of the
root (../, hard links outside) or go through a symbolic link are refused.
Prints the new image's ID.`,
		Example: `  strata import rootfs.tar busybox:latest
  gzip -c rootfs.tar | strata import - myroot
  strata import -m "base system" rootfs.tar.gz base:1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var ref *reference.Reference
			if len(args) == 2 {
				r, err := reference.ParseTagged(args[1])
				if err != nil {
					return err
				}
				ref = &r
			}
			src := args[0]
			var in io.Reader = o.stdin
			var total int64
			if src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil {
					if fi.IsDir() {
						return fmt.Errorf("import %s: is a directory, not a tarball", src)
					}
					total = fi.Size()
				}
				in = f
			}
			s, done, err := o.useStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			rep := progress.New(o.stderr, "Importing "+filepath.Base(src), total)
			desc, err := archive.Import(ctx, s, &progress.Reader{R: in, Reporter: rep}, archive.ImportOptions{Source: src, Message: message})
			if err != nil {
				return fmt.Errorf("import %s: %w", src, err)
			}
			if ref != nil {
				err = s.Tag(ctx, *ref, desc)
			} else {
				err = s.AddDangling(ctx, desc)
			}
			if err != nil {
				return fmt.Errorf("import %s: %w", src, err)
			}
			rep.Done()
			m, err := s.Manifest(ctx, desc)
			if err != nil {
				return err
			}
			fmt.Fprintln(o.stdout, m.Config.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "set the commit message for the imported image")
	return cmd
}
