package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// historyRow is one row of `strata history`, with Docker's JSON field
// names plus strata's Step and EmptyLayer.
type historyRow struct {
	ID           string
	Step         int
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	EmptyLayer   bool
	Size         string
	Comment      string
}

func newHistoryCmd(o *options) *cobra.Command {
	var noTrunc, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Long: `Show the steps that made an image, newest first: the instruction that
created each, whether it added a filesystem layer or changed only the
image's metadata (an empty_layer step), the layer's size and when.`,
		Example: `  strata history busybox
  strata history --no-trunc ml-flask-app
  strata history --format json ml-flask-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := o.openStore()
			if err != nil {
				return err
			}
			img, err := s.Lookup(ctx, args[0])
			if err != nil {
				return err
			}
			cf, _, err := s.ConfigFile(ctx, img)
			if err != nil {
				return fmt.Errorf("image %s: %w", args[0], err)
			}
			var rows []historyRow
			layers := img.Manifest.Layers
			li := 0
			for i, h := range cf.History {
				r := historyRow{
					ID: "<missing>", Step: i + 1, CreatedBy: h.CreatedBy, Comment: h.Comment,
					EmptyLayer: h.EmptyLayer, Size: "0B", CreatedSince: since(h.Created.Time),
				}
				if !h.Created.IsZero() {
					r.CreatedAt = h.Created.Time.Format(time.RFC3339)
				}
				if !h.EmptyLayer && li < len(layers) {
					r.Size = humanSize(layers[li].Size)
					li++
				}
				rows = append(rows, r)
			}
			if len(cf.History) == 0 { // an image without history: one row per layer
				for i, l := range layers {
					rows = append(rows, historyRow{ID: "<missing>", Step: i + 1, Size: humanSize(l.Size), CreatedSince: since(cf.Created.Time)})
				}
			}
			// Newest first, as Docker prints it; the newest row carries the image ID.
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			if len(rows) > 0 {
				rows[0].ID = img.ShortID()
				if noTrunc {
					rows[0].ID = img.ID.String()
				}
			}
			if !human {
				for i := range rows {
					rows[i].CreatedSince = rows[i].CreatedAt
				}
			}
			if done, err := writeFormatted(o.stdout, format, rows); done {
				return err
			}
			tw := newTable(o.stdout)
			fmt.Fprintln(tw, "IMAGE\tSTEP\tCREATED\tCREATED BY\tLAYER\tSIZE\tCOMMENT")
			for _, r := range rows {
				by := strings.ReplaceAll(r.CreatedBy, "\t", " ")
				if !noTrunc {
					by = truncate(by, 45)
				}
				kind := "filesystem"
				if r.EmptyLayer {
					kind = "metadata"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Step, r.CreatedSince, by, kind, r.Size, r.Comment)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.StringVar(&format, "format", "", "format output: 'table' (default), 'json', or a Go template")
	return cmd
}
