package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// inputRule is how an estimator validates rows, as scikit-learn's
// check_array does for it.
type inputRule struct {
	name      string // estimator name for messages
	features  int
	allowNaN  bool
	float32In bool // the estimator casts X to float32 first (trees)
}

// check validates rows: feature count, NaN and infinity.
func (r inputRule) check(rows [][]float64) error {
	if len(rows) == 0 {
		return errNoRows
	}
	for i, row := range rows {
		if len(row) != r.features {
			return fmt.Errorf("row %d has %d features, %s expects %d", i, len(row), r.name, r.features)
		}
		for j, x := range row {
			if x != x {
				if !r.allowNaN {
					return fmt.Errorf("row %d: feature %d is NaN, which %s does not accept", i, j, r.name)
				}
				continue
			}
			if r.float32In {
				x = float64(float32(x))
			}
			if math.IsInf(x, 0) {
				if r.float32In {
					return fmt.Errorf("row %d: feature %d is infinite or too large for float32 (%s casts features to float32)", i, j, r.name)
				}
				return fmt.Errorf("row %d: feature %d is infinite", i, j)
			}
		}
	}
	return nil
}

// pairwiseSum adds a the way numpy's sum does along a contiguous axis:
// sequentially below 8 items, with 8 interleaved accumulators up to 128,
// and by halves beyond.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := 0; j < 8; j++ {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
}

// argmax returns the index of the first largest value, like numpy.argmax
// (a NaN counts as the largest).
func argmax(a []float64) int {
	best := 0
	for i := 1; i < len(a); i++ {
		if a[best] != a[best] {
			return best
		}
		if a[i] > a[best] || a[i] != a[i] {
			best = i
		}
	}
	return best
}

// expit is scipy.special.expit: 1/(1+exp(-x)).
func expit(x float64) float64 {
	return 1 / (1 + math.Exp(-x))
}

// softmaxInPlace is sklearn.utils.extmath.softmax on one row: subtract the
// max, exponentiate, divide by the (numpy pairwise) sum.
func softmaxInPlace(x []float64) {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	for i := range x {
		x[i] = math.Exp(x[i] - m)
	}
	s := pairwiseSum(x)
	for i := range x {
		x[i] /= s
	}
}

// version is a parsed scikit-learn version, for behaviour that changed.
type version struct{ major, minor int }

func parseVersion(s string) version {
	parts := strings.SplitN(s, ".", 3)
	var v version
	if len(parts) >= 2 {
		v.major, _ = strconv.Atoi(parts[0])
		minor := parts[1]
		if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			minor = minor[:i]
		}
		v.minor, _ = strconv.Atoi(minor)
	}
	return v
}

func (v version) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

// copyRows returns a deep copy of rows, for transformers.
func copyRows(rows [][]float64) [][]float64 {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		out[i] = append([]float64(nil), r...)
	}
	return out
}
