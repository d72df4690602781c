package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/runtime"
)

func newStopCmd(o *options) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Long: `Stop a container: SIGTERM to its main process, then SIGKILL if it has not
exited after the timeout (10 seconds unless -t says otherwise).`,
		Example: `  strata stop app
  strata stop -t 2 app`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			timeout := time.Duration(seconds) * time.Second
			return eachContainer(cmd.Context(), o, rt, args, func(st *runtime.State) error {
				killed, err := rt.Stop(cmd.Context(), st, timeout)
				if killed {
					fmt.Fprintf(o.stderr, "container %s did not exit within %d seconds of SIGTERM: killed with SIGKILL\n", st.ShortID(), seconds)
				}
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}
