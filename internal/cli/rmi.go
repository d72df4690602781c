package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newRmiCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rmi [OPTIONS] IMAGE [IMAGE...]",
		Aliases: []string{"image-rm"},
		Short:   "Remove one or more images",
		Long: `Remove a name from an image, and the image with its blobs once no name is
left. Removing by ID removes every name, which needs --force when the
image has several.`,
		Example: `  strata rmi busybox
  strata rmi -f 3f9c2a1b7d4e`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, rt, err := o.openStoreWithContainers()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				// Removing one of several names only untags; deleting an
				// image a container uses needs --force, as in Docker.
				if img, matched, err := s.Resolve(cmd.Context(), name); err == nil && (matched == "" || len(img.Names) <= 1) {
					if err := checkImageUnused(cmd.Context(), s, rt, name, force); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				res, err := s.Remove(cmd.Context(), name, force)
				for _, u := range res.Untagged {
					fmt.Fprintf(o.stdout, "Untagged: %s\n", u)
				}
				for _, d := range res.Deleted {
					fmt.Fprintf(o.stdout, "Deleted: %s\n", d)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the image even if it has several names")
	return cmd
}
