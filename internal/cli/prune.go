package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/cache"
	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/progress"
	"github.com/strata-ml/strata/internal/runtime"
	"github.com/strata-ml/strata/internal/snapshot"
)

func newPruneCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Long: `Remove dangling images (those left without a name), build cache entries
whose layers no named image uses, every blob that no named image or
container references, unpacked layers nothing uses, and partial writes
that interrupted commands left behind.
Reports the space reclaimed. The layers of named images stay cached, so
rebuilding them after a prune is still a cache hit.`,
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
			// Containers keep their images, and their layers unpacked.
			s, rt, err := o.openStoreWithContainers()
			if err != nil {
				return err
			}
			// Build cache records whose layers no named image uses go
			// first, so their blobs are collected with the rest.
			c, err := cache.Open(s.Root(), s.Content())
			if err != nil {
				return err
			}
			live, err := s.Live(cmd.Context())
			if err != nil {
				return err
			}
			records, err := c.Prune(cmd.Context(), live)
			if err != nil {
				return fmt.Errorf("prune build cache: %w", err)
			}
			res, err := s.Prune(cmd.Context())
			if err == nil {
				var freed int64
				if freed, err = pruneSnapshots(cmd.Context(), s, rt); err == nil {
					res.Reclaimed += freed
				}
			}
			if len(res.Deleted) > 0 {
				fmt.Fprintln(o.stdout, "Deleted:")
				for _, d := range res.Deleted {
					fmt.Fprintf(o.stdout, "deleted: %s\n", d)
				}
				fmt.Fprintln(o.stdout)
			}
			if records > 0 {
				fmt.Fprintf(o.stdout, "Deleted build cache records: %d\n", records)
			}
			fmt.Fprintf(o.stdout, "Total reclaimed space: %s\n", humanSize(res.Reclaimed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// pruneSnapshots removes unpacked layers that no image or container uses.
func pruneSnapshots(ctx context.Context, s *image.Store, rt *runtime.Runtime) (int64, error) {
	snaps, err := snapshot.Open(s.Root())
	if err != nil {
		return 0, err
	}
	keep, err := rt.SnapshotRoots(ctx)
	if err != nil {
		return 0, err
	}
	freed, err := snaps.Prune(ctx, s, keep)
	if err != nil {
		return freed, fmt.Errorf("prune snapshots: %w", err)
	}
	return freed, nil
}
