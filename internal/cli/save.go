package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/archive"
	"github.com/strata-ml/strata/internal/progress"
)

func newSaveCmd(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Long: `Save images to a tar archive that docker load, podman load and skopeo
read: a docker-archive manifest.json and an OCI image layout (index.json,
oci-layout, blobs/sha256/) in one tar, as Docker 25+ writes. Images named
by ID are saved without names.`,
		Example: `  strata save -o busybox.tar busybox
  strata save ml-flask-app:latest | gzip > app.tar.gz
  podman load -i busybox.tar`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if output == "" && progress.IsTerminal(o.stdout) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			s, err := o.openStore()
			if err != nil {
				return err
			}
			var imgs []archive.Named
			for _, name := range args {
				img, matched, err := s.Resolve(ctx, name)
				if err != nil {
					return err
				}
				n := archive.Named{Image: img}
				if matched != "" {
					n.Names = []string{matched}
				}
				imgs = append(imgs, n)
			}
			var total int64
			for _, n := range imgs {
				total += n.Image.Size()
			}
			rep := progress.New(o.stderr, "Saving "+strings.Join(args, " "), total)
			save := func(w io.Writer) error {
				return archive.Save(ctx, s, &progress.Writer{W: w, Reporter: rep}, imgs)
			}
			if output == "" {
				bw := bufio.NewWriterSize(o.stdout, 1<<20)
				if err := save(bw); err != nil {
					return err
				}
				if err := bw.Flush(); err != nil {
					return err
				}
			} else if err := saveToFile(output, save); err != nil {
				return err
			}
			rep.Done()
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// saveToFile writes through a temporary file renamed into place, so a
// failed save never leaves a partial archive under the name asked for.
func saveToFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save: %w", err)
	}
	return nil
}
