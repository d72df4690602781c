package cli

import (
	"context"
	"fmt"

	"github.com/strata-ml/strata/internal/image"
)

// openStore opens the image store at --root.
func (o *options) openStore() (*image.Store, error) {
	s, err := image.Open(o.root)
	if err != nil {
		return nil, fmt.Errorf("%w (set --root or STRATA_ROOT to a directory you can write)", err)
	}
	return s, nil
}

// useStore opens the store for a command that writes to it, holding it
// (image.Store.Use) until done is called so prune cannot collect blobs
// the command has stored but not yet named.
func (o *options) useStore(ctx context.Context) (s *image.Store, done func(), err error) {
	if s, err = o.openStore(); err != nil {
		return nil, nil, err
	}
	if done, err = s.Use(ctx); err != nil {
		return nil, nil, err
	}
	return s, done, nil
}
