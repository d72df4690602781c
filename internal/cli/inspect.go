package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/reference"
)

// imageInspect is Docker's image inspect document.
type imageInspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	RootFS        struct {
		Type   string
		Layers []string
	}
	Metadata struct {
		LastTagTime string
	}
	// Descriptor is the manifest's descriptor, as Docker 25+ reports it.
	Descriptor v1.Descriptor
}

func newInspectCmd(o *options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE|CONTAINER [IMAGE|CONTAINER...]",
		Short: "Return low-level information on images and containers",
		Example: `  strata inspect busybox
  strata inspect --format '{{.Id}}' busybox
  strata inspect --format '{{json .Config.Cmd}}' busybox`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := o.openStore()
			if err != nil {
				return err
			}
			var f *formatter
			if format != "" {
				if f, err = newFormatter(format); err != nil {
					return err
				}
			}
			var docs []any
			var errs []error
			for _, name := range args {
				var doc any
				doc, err := inspectImage(ctx, s, name)
				if errors.Is(err, image.ErrNotFound) {
					doc, err = inspectContainerFallback(ctx, o, name, err)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if f != nil {
					if err := f.write(o.stdout, doc); err != nil {
						return err
					}
					continue
				}
				docs = append(docs, doc)
			}
			if f == nil {
				if docs == nil {
					docs = []any{}
				}
				b, err := json.MarshalIndent(docs, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintf(o.stdout, "%s\n", b)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a Go template")
	return cmd
}

func inspectImage(ctx context.Context, s *image.Store, name string) (imageInspect, error) {
	img, err := s.Lookup(ctx, name)
	if err != nil {
		return imageInspect{}, err
	}
	cf, _, err := s.ConfigFile(ctx, img)
	if err != nil {
		return imageInspect{}, fmt.Errorf("image %s: %w", name, err)
	}
	doc := imageInspect{
		ID:           img.ID.String(),
		RepoTags:     []string{},
		RepoDigests:  []string{},
		Author:       cf.Author,
		Config:       cf.Config,
		Architecture: cf.Architecture,
		Variant:      cf.Variant,
		Os:           cf.OS,
		Size:         img.Size(),
		Descriptor:   img.Target,
	}
	if !cf.Created.IsZero() {
		doc.Created = cf.Created.Time.UTC().Format(time.RFC3339Nano)
	}
	if n := len(cf.History); n > 0 {
		doc.Comment = cf.History[n-1].Comment
	}
	for _, n := range img.Names {
		doc.RepoTags = append(doc.RepoTags, reference.Familiar(n))
	}
	for _, d := range img.RepoDigests() {
		doc.RepoDigests = append(doc.RepoDigests, reference.Familiar(d))
	}
	doc.RootFS.Type = "layers"
	doc.RootFS.Layers = []string{}
	for _, d := range cf.RootFS.DiffIDs {
		doc.RootFS.Layers = append(doc.RootFS.Layers, d.String())
	}
	if !img.Updated.IsZero() {
		doc.Metadata.LastTagTime = img.Updated.Format(time.RFC3339Nano)
	}
	return doc, nil
}
