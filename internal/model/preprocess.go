package model

import (
	"fmt"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// standardScaler is StandardScaler: (x - mean_) / scale_.
type standardScaler struct {
	meta        Info
	rule        inputRule
	mean, scale []float64 // nil when with_mean / with_std is False
}

func buildStandardScaler(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	s := &standardScaler{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	// transform centres when with_mean and scales when with_std; the
	// attributes it does not use may be None.
	if flag(a, "with_mean") {
		if s.mean, err = a.vector("mean_", n); err != nil {
			return nil, err
		}
	}
	if flag(a, "with_std") {
		if s.scale, err = a.vector("scale_", n); err != nil {
			return nil, err
		}
	}
	// Scalers accept NaN and pass it through.
	s.meta.AllowsNaN = true
	s.rule = inputRule{name: s.meta.Estimator, features: n, allowNaN: true}
	return s, nil
}

func (s *standardScaler) info() Info       { return s.meta }
func (s *standardScaler) numFeatures() int { return s.rule.features }
func (s *standardScaler) transform(rows [][]float64) ([][]float64, error) {
	if err := s.rule.check(rows); err != nil {
		return nil, err
	}
	out := copyRows(rows)
	for _, r := range out {
		if s.mean != nil {
			for j := range r {
				r[j] -= s.mean[j]
			}
		}
		if s.scale != nil {
			for j := range r {
				r[j] /= s.scale[j]
			}
		}
	}
	return out, nil
}

// flag reads a boolean constructor parameter that defaults to true.
func flag(a attrs, name string) bool {
	b, ok := a.lookup(name).(bool)
	return !ok || b
}

// minMaxScaler is MinMaxScaler: x * scale_ + min_, optionally clipped.
type minMaxScaler struct {
	meta       Info
	rule       inputRule
	scale, min []float64
	clip       bool
	lo, hi     float64
}

func buildMinMaxScaler(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	m := &minMaxScaler{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if m.scale, err = a.vector("scale_", n); err != nil {
		return nil, err
	}
	if m.min, err = a.vector("min_", n); err != nil {
		return nil, err
	}
	if c, ok := a.lookup("clip").(bool); ok && c {
		m.clip = true
		fr, ok := unpickle.Seq(a.lookup("feature_range"))
		if !ok || len(fr) != 2 {
			return nil, fmt.Errorf("feature_range: %s is not a pair", unpickle.Describe(a.lookup("feature_range")))
		}
		lo, ok1 := unpickle.Float(fr[0])
		hi, ok2 := unpickle.Float(fr[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("feature_range: %s is not a pair of numbers", unpickle.Describe(a.lookup("feature_range")))
		}
		m.lo, m.hi = lo, hi
	}
	m.meta.AllowsNaN = true
	m.rule = inputRule{name: m.meta.Estimator, features: n, allowNaN: true}
	return m, nil
}

func (m *minMaxScaler) info() Info       { return m.meta }
func (m *minMaxScaler) numFeatures() int { return m.rule.features }
func (m *minMaxScaler) transform(rows [][]float64) ([][]float64, error) {
	if err := m.rule.check(rows); err != nil {
		return nil, err
	}
	out := copyRows(rows)
	for _, r := range out {
		for j := range r {
			// Two roundings, as numpy's X *= scale_; X += min_.
			r[j] = float64(r[j]*m.scale[j]) + m.min[j]
			if m.clip {
				// np.clip keeps NaN.
				if r[j] < m.lo {
					r[j] = m.lo
				} else if r[j] > m.hi {
					r[j] = m.hi
				}
			}
		}
	}
	return out, nil
}
