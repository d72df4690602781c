package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/progress"
	"github.com/strata-ml/strata/internal/reference"
	"github.com/strata-ml/strata/internal/registry"
)

func newPullCmd(o *options) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Long: `Download an image from a registry (Docker Hub by default) for this
machine's platform, checking every blob against its digest. Credentials
come from the Docker config (~/.docker/config.json). Registries on
localhost and 127.0.0.1 are spoken to over plain HTTP.`,
		Example: `  strata pull busybox
  strata pull localhost:5000/team/app:v1
  strata pull python@sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.Parse(args[0])
			if err != nil {
				return err
			}
			s, done, err := o.useStore(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out := o.stdout
			if quiet {
				out = io.Discard
			}
			if _, err := pullImage(cmd.Context(), s, ref, out, o.stderr); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(o.stdout, ref.String())
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

// pullImage pulls ref into s and names it, printing Docker's lines to out
// and byte progress on a terminal to errOut.
func pullImage(ctx context.Context, s *image.Store, ref reference.Reference, out, errOut io.Writer) (image.Image, error) {
	tag := ref.Tag
	if tag == "" {
		tag = ref.Digest
	}
	fmt.Fprintf(out, "%s: Pulling from %s\n", tag, strings.TrimPrefix(reference.Familiar(ref.Repository), "docker.io/"))
	rep := progress.New(errOut, "Downloading", 0)
	fetched := 0
	desc, err := registry.Pull(ctx, s, ref, registry.Options{
		Bytes: rep.Add,
		Progress: func(e registry.Event) {
			switch e.Status {
			case "exists":
				fmt.Fprintf(out, "%s: Already exists\n", image.ShortID(e.Layer))
			case "done":
				fetched++
				fmt.Fprintf(out, "%s: Pull complete\n", image.ShortID(e.Layer))
			}
		},
	})
	if err != nil {
		return image.Image{}, err
	}
	named := ref
	named.Digest = ""
	if named.Tag == "" {
		// Pulled by digest only: keep it as a dangling image, as Docker does.
		err = s.AddDangling(ctx, desc)
	} else {
		err = s.Tag(ctx, named, desc)
	}
	if err != nil {
		return image.Image{}, err
	}
	fmt.Fprintf(out, "Digest: %s\n", desc.Digest)
	if fetched > 0 {
		fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", ref.FamiliarString())
	} else {
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", ref.FamiliarString())
	}
	fmt.Fprintln(out, ref.String())
	if named.Tag != "" {
		return s.Lookup(ctx, named.String())
	}
	imgs, err := s.List(ctx)
	for _, img := range imgs {
		if img.Target.Digest == desc.Digest {
			return img, nil
		}
	}
	return image.Image{}, fmt.Errorf("pull %s: the image is not in the store after the pull: %v", ref, err)
}
