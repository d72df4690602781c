package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/runtime"
)

func newLogsCmd(o *options) *cobra.Command {
	var follow, timestamps bool
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Example: `  strata logs app
  strata logs -f --tail 10 app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := -1
			if tail != "all" {
				v, err := strconv.Atoi(tail)
				if err != nil || v < 0 {
					return &usageError{"invalid --tail " + strconv.Quote(tail) + ": want a number of lines or all"}
				}
				n = v
			}
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			st, err := lookupContainer(cmd.Context(), rt, args[0])
			if err != nil {
				return err
			}
			return rt.Logs(cmd.Context(), st, o.stdout, o.stderr, runtime.LogsOptions{Follow: follow, Tail: n, Timestamps: timestamps})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	return cmd
}

// usageError is a mistake in a command's arguments.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
