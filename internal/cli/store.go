package cli

import (
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
