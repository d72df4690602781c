package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/progress"
)

func newPruneCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Long: `Remove dangling images (those left without a name), every blob that no
named image references, and partial writes that interrupted commands left
behind. Reports the space reclaimed.`,
		Example: `  strata prune
  strata prune -f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				if f, ok := o.stdin.(*os.File); ok && progress.IsTerminal(f) {
					fmt.Fprint(o.stdout, "WARNING! This will remove:\n  - all dangling images\n  - all blobs no image uses\nAre you sure you want to continue? [y/N] ")
					answer, _ := bufio.NewReader(o.stdin).ReadString('\n')
					if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
						return nil
					}
				}
			}
			s, err := o.openStore()
			if err != nil {
				return err
			}
			res, err := s.Prune(cmd.Context())
			if len(res.Deleted) > 0 {
				fmt.Fprintln(o.stdout, "Deleted:")
				for _, d := range res.Deleted {
					fmt.Fprintf(o.stdout, "deleted: %s\n", d)
				}
				fmt.Fprintln(o.stdout)
			}
			fmt.Fprintf(o.stdout, "Total reclaimed space: %s\n", humanSize(res.Reclaimed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}
