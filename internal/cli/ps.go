package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/runtime"
)

// psRow is one line of `ps`, with the fields (and JSON names) of Docker's
// `docker ps --format json`.
type psRow struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string
}

func newPsCmd(o *options) *cobra.Command {
	var all, quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"container-ls"},
		Short:   "List containers",
		Example: `  strata ps
  strata ps -a
  strata ps -aq
  strata ps -a --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			list, err := rt.List(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			var rows []psRow
			for _, st := range list {
				if !all && !st.Running() {
					continue
				}
				rows = append(rows, newPsRow(st, now, noTrunc))
			}
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(o.stdout, r.ID)
				}
			case format == "json":
				for _, r := range rows {
					b, err := json.Marshal(r)
					if err != nil {
						return err
					}
					fmt.Fprintf(o.stdout, "%s\n", b)
				}
			case format != "" && format != "table":
				f, err := newFormatter(format)
				if err != nil {
					return err
				}
				for _, r := range rows {
					if err := f.write(o.stdout, r); err != nil {
						return err
					}
				}
			default:
				tw := newTable(o.stdout)
				fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
				for _, r := range rows {
					cmdline := strconv.Quote(r.Command)
					if !noTrunc {
						cmdline = strconv.Quote(truncate(r.Command, 20))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, cmdline, r.RunningFor, r.Status, r.Ports, r.Names)
				}
				return tw.Flush()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.StringVar(&format, "format", "", "format output: 'table' (default), 'json', or a Go template")
	return cmd
}

func newPsRow(st *runtime.State, now time.Time, noTrunc bool) psRow {
	id := st.ID
	if !noTrunc {
		id = st.ShortID()
	}
	var ports []string
	for _, p := range st.Ports {
		ports = append(ports, p.String())
	}
	var mounts []string
	for _, m := range st.Mounts {
		mounts = append(mounts, m.Source)
	}
	state := string(st.Status)
	return psRow{
		Command:      shellJoin(st.Args),
		CreatedAt:    st.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		ID:           id,
		Image:        st.Image,
		LocalVolumes: "0",
		Mounts:       strings.Join(mounts, ","),
		Names:        st.Name,
		Networks:     st.Network,
		Ports:        strings.Join(ports, ", "),
		RunningFor:   since(st.Created),
		Size:         "N/A",
		State:        state,
		Status:       st.StatusLine(now),
	}
}

// shellJoin is a command line as Docker's COMMAND column shows it.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
