package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time: -ldflags "-X github.com/strata-ml/strata/internal/cli.version=v0.1.0".
var version = "dev"

type versionInfo struct {
	Version   string
	GitCommit string
	GoVersion string
	Os        string
	Arch      string
}

func newVersionCmd(o *options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the strata version information",
		Example: `  strata version
  strata version --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: version, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v.GitCommit = s.Value
					}
				}
			}
			if format == "json" {
				return json.NewEncoder(o.stdout).Encode(v)
			}
			fmt.Fprintf(o.stdout, "Version:    %s\nGit commit: %s\nGo version: %s\nOS/Arch:    %s/%s\n",
				v.Version, v.GitCommit, v.GoVersion, v.Os, v.Arch)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: json")
	return cmd
}
