package cli

import (
	"github.com/strata-ml/strata/internal/build"
	"github.com/strata-ml/strata/internal/image"
)

// buildRunner executes RUN steps for strata build on runc; if the runtime
// cannot be set up, RUN steps say so and everything else still builds.
func buildRunner(o *options, s *image.Store) build.Runner {
	r, err := build.NewRunner(s)
	if err != nil {
		return nil
	}
	return r
}
