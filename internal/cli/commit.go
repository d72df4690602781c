package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/reference"
	"github.com/strata-ml/strata/internal/runtime"
)

func newCommitCmd(o *options) *cobra.Command {
	var message, author string
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: `Make an image of a container: its writable layer becomes a new layer on
top of its image's, with the container's configuration. The container is
not paused: commit a stopped container for a consistent layer.`,
		Example: `  strata commit app app:v2
  strata commit -m "add model" app`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var ref reference.Reference
			if len(args) == 2 {
				r, err := reference.ParseTagged(args[1])
				if err != nil {
					return err
				}
				ref = r
			}
			s, rt, err := o.openStoreWithContainers()
			if err != nil {
				return err
			}
			st, err := lookupContainer(ctx, rt, args[0])
			if err != nil {
				return err
			}
			done, err := s.Use(ctx)
			if err != nil {
				return err
			}
			defer done()
			desc, id, err := rt.Commit(ctx, s, st, runtime.CommitOptions{Comment: message, Author: author})
			if err != nil {
				return err
			}
			if len(args) == 2 {
				err = s.Tag(ctx, ref, desc)
			} else {
				err = s.AddDangling(ctx, desc)
			}
			if err != nil {
				return fmt.Errorf("commit %s: %w", st.ShortID(), err)
			}
			fmt.Fprintln(o.stdout, id)
			return nil
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	cmd.Flags().StringVarP(&author, "author", "a", "", "author (e.g. \"Jane <jane@example.com>\")")
	return cmd
}
