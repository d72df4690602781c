package cli

import (
	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/runtime"
)

func newRmCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"container-rm"},
		Short:   "Remove one or more containers",
		Long: `Remove containers: their writable layer, logs and state. The image's
layers stay. A running container needs -f, which kills it first.`,
		Example: `  strata rm app
  strata rm -f $(strata ps -aq)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			return eachContainer(cmd.Context(), o, rt, args, func(st *runtime.State) error {
				return rt.Remove(cmd.Context(), st, runtime.RemoveOptions{Force: force})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	return cmd
}
