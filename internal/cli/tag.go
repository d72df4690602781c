package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/reference"
)

func newTagCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Example: `  strata tag ml-flask-app myuser/ml-flask-app:latest
  strata tag 3f9c2a1b7d4e localhost:5000/app:v1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dst, err := reference.ParseTagged(args[1])
			if err != nil {
				return err
			}
			s, err := o.openStore()
			if err != nil {
				return err
			}
			img, err := s.Lookup(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.Tag(ctx, dst, img.Target); err != nil {
				return fmt.Errorf("tag %s: %w", args[1], err)
			}
			return nil
		},
	}
}
