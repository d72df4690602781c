package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newWaitCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				st, err := lookupContainer(cmd.Context(), rt, ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				code, err := rt.Wait(cmd.Context(), st)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(o.stdout, code)
			}
			return errors.Join(errs...)
		},
	}
}
