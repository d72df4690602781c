package cli

import (
	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/runtime"
)

func newKillCmd(o *options) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Example: `  strata kill app
  strata kill -s HUP app`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := runtime.ParseSignal(signal)
			if err != nil {
				return err
			}
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			return eachContainer(cmd.Context(), o, rt, args, func(st *runtime.State) error {
				return rt.Kill(cmd.Context(), st, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}
