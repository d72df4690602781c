package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// imageRow is one row of `strata images`, with Docker's JSON field names.
type imageRow struct {
	Repository   string
	Tag          string
	Digest       string
	ID           string
	CreatedAt    string
	CreatedSince string
	Size         string
	VirtualSize  string
	Containers   string
	SharedSize   string
	UniqueSize   string
	created      time.Time
}

func newImagesCmd(o *options) *cobra.Command {
	var digests, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Long: `List the images in the store, one row per name; images left without a
name show as <none>. SIZE is what the image's blobs occupy in the store.`,
		Example: `  strata images
  strata images busybox
  strata images --digests --no-trunc
  strata images --format json
  strata images --format '{{.Repository}}:{{.Tag}} {{.ID}}'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.openStore()
			if err != nil {
				return err
			}
			imgs, listErr := s.List(cmd.Context())
			rows, rowsErr := imageRows(cmd.Context(), s, imgs, noTrunc)
			if len(args) == 1 {
				rows = filterRows(rows, args[0])
			}
			if err := writeImageRows(o, rows, format, digests, quiet); err != nil {
				return err
			}
			return errors.Join(listErr, rowsErr)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&digests, "digests", false, "show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.StringVar(&format, "format", "", "format output: 'table' (default), 'json', or a Go template")
	return cmd
}

// imageRows makes the table's rows, reading each image's config for its
// creation time; images whose config cannot be read are reported.
func imageRows(ctx context.Context, s *image.Store, imgs []image.Image, noTrunc bool) ([]imageRow, error) {
	var rows []imageRow
	var errs []error
	for _, img := range imgs {
		id := img.ShortID()
		if noTrunc {
			id = img.ID.String()
		}
		cf, _, err := s.ConfigFile(ctx, img)
		if err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", id, err))
			continue
		}
		created := cf.Created.Time
		base := imageRow{
			Digest: img.Target.Digest.String(), ID: id,
			Size: humanSize(img.Size()), VirtualSize: humanSize(img.Size()),
			Containers: "N/A", SharedSize: "N/A", UniqueSize: "N/A", created: created,
		}
		if len(img.Names) == 0 {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			rows = append(rows, r)
			continue
		}
		for _, n := range img.Names {
			ref, err := reference.Parse(n)
			if err != nil {
				continue
			}
			r := base
			r.Repository, r.Tag = ref.FamiliarRepository(), ref.Tag
			rows = append(rows, r)
		}
	}
	return rows, errors.Join(errs...)
}

func filterRows(rows []imageRow, pattern string) []imageRow {
	repo, tag, _ := strings.Cut(pattern, ":")
	if strings.Contains(tag, "/") { // a registry port, not a tag
		repo, tag = pattern, ""
	}
	var out []imageRow
	for _, r := range rows {
		if (r.Repository == repo || r.Repository == reference.Familiar(repo)) && (tag == "" || r.Tag == tag) {
			out = append(out, r)
		}
	}
	return out
}

func writeImageRows(o *options, rows []imageRow, format string, digests, quiet bool) error {
	for i := range rows {
		rows[i].CreatedSince = since(rows[i].created)
		if !rows[i].created.IsZero() {
			rows[i].CreatedAt = rows[i].created.Format("2006-01-02 15:04:05 -0700 MST")
		}
	}
	switch {
	case quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Fprintln(o.stdout, r.ID)
			}
		}
		return nil
	}
	if done, err := writeFormatted(o.stdout, format, rows); done {
		return err
	}
	tw := newTable(o.stdout)
	if digests {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		if digests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince, r.Size)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
		}
	}
	return tw.Flush()
}
