package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-ml/strata/internal/image"
	"github.com/strata-ml/strata/internal/layer"
)

// Changes lists what the container changed in its image's filesystem, as
// `docker diff` prints it.
func (r *Runtime) Changes(ctx context.Context, st *State) ([]layer.Change, error) {
	return layer.Changes(r.UpperDir(st.ID), st.Lowers)
}

// CommitOptions describe the image Commit makes.
type CommitOptions struct {
	// Comment and Author go into the new history entry and config.
	Comment, Author string
}

// Commit makes a new image of the container: its writable layer, as an OCI
// layer, on top of the image's layers, with the container's configuration
// (command, environment, working directory, user, ports) and a history
// entry. It returns the new manifest's descriptor and image ID; the caller
// names it (image.Store.Tag, or AddDangling).
func (r *Runtime) Commit(ctx context.Context, is *image.Store, st *State, o CommitOptions) (v1.Descriptor, v1.Hash, error) {
	fail := func(err error) (v1.Descriptor, v1.Hash, error) {
		return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("commit %s: %w", st.ShortID(), err)
	}
	img, err := is.Lookup(ctx, st.ImageID)
	if err != nil {
		return fail(fmt.Errorf("the container's image: %w", err))
	}
	cf, _, err := is.ConfigFile(ctx, img)
	if err != nil {
		return fail(err)
	}
	w, err := is.Content().Writer(ctx)
	if err != nil {
		return fail(err)
	}
	defer w.Close()
	diffID, size, err := layer.WriteDiff(ctx, r.UpperDir(st.ID), w, layer.DiffOptions{})
	if err != nil {
		return fail(err)
	}
	info, err := w.Commit(ctx, diffID)
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	c := st.Config
	cf.Config.Cmd = c.Cmd
	cf.Config.Entrypoint = c.Entrypoint
	cf.Config.Env = c.Env
	if !hasEnv(cf.Config.Env, "PATH") {
		cf.Config.Env = append([]string{DefaultPath}, cf.Config.Env...)
	}
	cf.Config.WorkingDir = c.WorkingDir
	cf.Config.User = c.User
	cf.Config.Labels = c.Labels
	if len(c.ExposedPorts) > 0 {
		if cf.Config.ExposedPorts == nil {
			cf.Config.ExposedPorts = map[string]struct{}{}
		}
		for p := range c.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	cf.Created = v1.Time{Time: now}
	cf.Author = o.Author
	cf.Container = st.ID
	cf.RootFS.Type = "layers"
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
	cf.History = append(cf.History, v1.History{
		Created:   v1.Time{Time: now},
		CreatedBy: strings.Join(st.Args, " "),
		Author:    o.Author,
		Comment:   o.Comment,
	})
	raw, err := json.Marshal(cf)
	if err != nil {
		return fail(err)
	}
	layers := append(append([]v1.Descriptor{}, img.Manifest.Layers...), v1.Descriptor{
		MediaType: types.OCIUncompressedLayer, Digest: info.Digest, Size: size,
	})
	desc, err := is.WriteManifest(ctx, raw, layers)
	if err != nil {
		return fail(err)
	}
	id, _, err := v1.SHA256(strings.NewReader(string(raw)))
	if err != nil {
		return fail(err)
	}
	return desc, id, nil
}
