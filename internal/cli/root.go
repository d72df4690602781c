// Package cli is strata's command line: one file per command, each a thin
// layer over the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// options are the settings every command shares.
type options struct {
	root   string    // the store's directory ($STRATA_ROOT)
	stdin  io.Reader // where commands read "-" from
	stdout io.Writer
	stderr io.Writer
}

// ExitError carries a specific exit status out of a command (the status of
// a container, say) without printing anything more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Execute runs strata with args and returns the process exit status. Errors
// are printed Docker's way, "Error: ...", never as a stack trace.
func Execute(ctx context.Context, args []string) int {
	return execute(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &options{stdin: stdin, stdout: stdout, stderr: stderr}
	cmd := newRootCmd(o)
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	return 1
}

func newRootCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "strata",
		Short: "Docker for machine learning, as one daemonless binary",
		Long: `strata builds, stores, runs, ships and serves container images and
scikit-learn models. It needs no daemon: every command works on the store
at $STRATA_ROOT (default /var/lib/strata as root, $XDG_DATA_HOME/strata
otherwise), which many strata processes can share at once.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	cmd.SetVersionTemplate("strata version {{.Version}}\n")
	cmd.PersistentFlags().StringVar(&o.root, "root", defaultRoot(), "the store's directory (env STRATA_ROOT)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())
	})
	for _, sub := range []*cobra.Command{
		newBuildCmd(o),
		newImagesCmd(o),
		newImportCmd(o),
		newHistoryCmd(o),
		newInspectCmd(o),
		newTagCmd(o),
		newRmiCmd(o),
		newPruneCmd(o),
		newPullCmd(o),
		newSaveCmd(o),
		newLoadCmd(o),
		newServeCmd(o),
		newPredictCmd(o),
		newRunCmd(o),
		newPsCmd(o),
		newLogsCmd(o),
		newStopCmd(o),
		newKillCmd(o),
		newRmCmd(o),
		newExecCmd(o),
		newDiffCmd(o),
		newCommitCmd(o),
		newWaitCmd(o),
		newMonitorCmd(o),
		newFlushCmd(o),
		newVersionCmd(o),
	} {
		cmd.AddCommand(sub)
	}
	return cmd
}

// defaultRoot is $STRATA_ROOT, else /var/lib/strata for root, else
// $XDG_DATA_HOME/strata (~/.local/share/strata).
func defaultRoot() string {
	if r := os.Getenv("STRATA_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/strata"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return x + "/strata"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".strata"
	}
	return home + "/.local/share/strata"
}
