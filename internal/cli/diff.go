package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDiffCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Long: `List what a container added (A), changed (C) and deleted (D) relative to
its image.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			st, err := lookupContainer(cmd.Context(), rt, args[0])
			if err != nil {
				return err
			}
			changes, err := rt.Changes(cmd.Context(), st)
			if err != nil {
				return err
			}
			for _, c := range changes {
				fmt.Fprintln(o.stdout, c)
			}
			return nil
		},
	}
}
