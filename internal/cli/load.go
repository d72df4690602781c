package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/archive"
	"github.com/strata-ml/strata/internal/progress"
	"github.com/strata-ml/strata/internal/reference"
)

func newLoadCmd(o *options) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Long: `Load images from a tar archive: a docker-archive (docker save, podman
save, skopeo copy ... docker-archive:), an OCI layout in a tar
(oci-archive:), or both in one (Docker 25+, strata save). Every blob is
checked against its digest; an archive that names a missing blob is
refused before anything is stored.`,
		Example: `  strata load -i busybox.tar
  podman save busybox | strata load`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, done, err := o.useStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			var f *os.File
			src := input
			if input == "" || input == "-" {
				src = "STDIN"
				if f, err = archive.SpoolStdin(ctx, o.stdin, s.Root()+"/ingest"); err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer os.Remove(f.Name())
			} else if f, err = os.Open(input); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			defer f.Close()
			var total int64
			if fi, err := f.Stat(); err == nil {
				total = fi.Size()
			}
			rep := progress.New(o.stderr, "Loading "+src, total)
			loaded, err := archive.Load(ctx, s, f, rep.Add)
			if err != nil {
				return fmt.Errorf("load %s: %w", src, err)
			}
			if !quiet {
				rep.Done()
			}
			for _, l := range loaded {
				if len(l.Names) == 0 {
					if err := s.AddDangling(ctx, l.Target); err != nil {
						return err
					}
					if !quiet {
						fmt.Fprintf(o.stdout, "Loaded image ID: %s\n", l.ID)
					}
				}
				for _, n := range l.Names {
					ref, err := reference.ParseTagged(n)
					if err != nil {
						return err
					}
					if err := s.Tag(ctx, ref, l.Target); err != nil {
						return err
					}
					if !quiet {
						fmt.Fprintf(o.stdout, "Loaded image: %s\n", ref.FamiliarString())
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}
