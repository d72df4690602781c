package build

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/layer"
)

// writeDiff writes a RUN step's upper directory as a layer tar, times
// clamped to the build's epoch.
func writeDiff(ctx context.Context, upper string, w io.Writer, epoch time.Time) (v1.Hash, int64, error) {
	return layer.WriteDiff(ctx, upper, w, layer.DiffOptions{SourceDateEpoch: &epoch})
}
