package model

import (
	"fmt"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// linear holds coef_ and intercept_ of a linear model: k rows of
// coefficients over n features.
type linear struct {
	coef      []float64 // k*n, row-major
	intercept []float64 // k
	k, n      int
}

// readLinear reads coef_ (shape (n,), (k, n)) and intercept_ (a number or
// shape (k,)).
func readLinear(a attrs, n int) (linear, error) {
	coef, shape, err := a.floats("coef_")
	if err != nil {
		return linear{}, err
	}
	l := linear{coef: coef, n: n}
	switch {
	case len(shape) == 1 && shape[0] == n:
		l.k = 1
	case len(shape) == 2 && shape[1] == n && shape[0] > 0:
		l.k = shape[0]
	default:
		return linear{}, fmt.Errorf("coef_: shape %v does not fit %d features", shape, n)
	}
	if len(coef) != l.k*n {
		return linear{}, fmt.Errorf("coef_: %d values for shape %v", len(coef), shape)
	}
	if l.intercept, _, err = a.floats("intercept_"); err != nil {
		return linear{}, err
	}
	if len(l.intercept) != l.k {
		return linear{}, fmt.Errorf("intercept_: %d values for %d coefficient rows", len(l.intercept), l.k)
	}
	return l, nil
}

// decision writes X @ coef_.T + intercept_ for one row into s. numpy hands
// the product to BLAS, whose summation order is its own, so these agree with
// scikit-learn to rounding (about 1e-15 relative), not always to the bit.
func (l *linear) decision(x, s []float64) {
	for c := 0; c < l.k; c++ {
		w := l.coef[c*l.n : (c+1)*l.n]
		d := 0.0
		for j, v := range x {
			d += float64(v * w[j])
		}
		s[c] = d + l.intercept[c]
	}
}

// linearRegressor is LinearRegression, Ridge, Lasso or ElasticNet.
type linearRegressor struct {
	meta Info
	rule inputRule
	lin  linear
}

func buildLinear(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	r := &linearRegressor{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if r.lin, err = readLinear(a, n); err != nil {
		return nil, err
	}
	if r.lin.k != 1 {
		return nil, fmt.Errorf("coef_: %d targets; only single-target regressors are supported", r.lin.k)
	}
	r.rule = inputRule{name: r.meta.Estimator, features: n}
	return r, nil
}

func (r *linearRegressor) info() Info { return r.meta }

// Info implements Model.
func (r *linearRegressor) Info() Info { return r.meta }

// NumFeatures implements Model.
func (r *linearRegressor) NumFeatures() int { return r.rule.features }

// Predict implements Model.
func (r *linearRegressor) Predict(rows [][]float64) ([]any, error) {
	if err := r.rule.check(rows); err != nil {
		return nil, err
	}
	out := make([]any, len(rows))
	var s [1]float64
	for i, row := range rows {
		r.lin.decision(row, s[:])
		out[i] = s[0]
	}
	return out, nil
}

// logistic is LogisticRegression.
type logistic struct {
	meta    Info
	rule    inputRule
	classes []any
	lin     linear
	ovr     bool // one-vs-rest probabilities rather than softmax
}

func buildLogistic(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	l := &logistic{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if l.classes, err = a.labels("classes_"); err != nil {
		return nil, err
	}
	if len(l.classes) < 2 {
		return nil, fmt.Errorf("classes_: %d class", len(l.classes))
	}
	if l.lin, err = readLinear(a, n); err != nil {
		return nil, err
	}
	if want := len(l.classes); (want == 2 && l.lin.k != 1) || (want > 2 && l.lin.k != want) {
		return nil, fmt.Errorf("coef_: %d rows for %d classes", l.lin.k, want)
	}
	multi, _ := a.lookup("multi_class").(string)
	solver, _ := a.lookup("solver").(string)
	switch multi {
	case "ovr", "warn":
		l.ovr = true
	case "multinomial":
	case "auto", "deprecated", "":
		l.ovr = len(l.classes) <= 2 || solver == "liblinear"
	default:
		return nil, fmt.Errorf("multi_class: %q is unknown", multi)
	}
	l.rule = inputRule{name: l.meta.Estimator, features: n}
	return l, nil
}

func (l *logistic) info() Info { return l.meta }

// Info implements Model.
func (l *logistic) Info() Info { return l.meta }

// NumFeatures implements Model.
func (l *logistic) NumFeatures() int { return l.rule.features }

// Classes implements Classifier.
func (l *logistic) Classes() []any { return append([]any(nil), l.classes...) }

// Predict is LinearClassifierMixin.predict: the positive class where the
// binary decision is > 0, else the argmax of the decisions.
func (l *logistic) Predict(rows [][]float64) ([]any, error) {
	if err := l.rule.check(rows); err != nil {
		return nil, err
	}
	out := make([]any, len(rows))
	s := make([]float64, l.lin.k)
	for i, row := range rows {
		l.lin.decision(row, s)
		if l.lin.k == 1 {
			if s[0] > 0 {
				out[i] = l.classes[1]
			} else {
				out[i] = l.classes[0]
			}
			continue
		}
		out[i] = l.classes[argmax(s)]
	}
	return out, nil
}

// PredictProba follows LogisticRegression.predict_proba: expit with
// one-vs-rest normalisation, or softmax (of [-d, d] for binary).
func (l *logistic) PredictProba(rows [][]float64) ([][]float64, error) {
	if err := l.rule.check(rows); err != nil {
		return nil, err
	}
	nc := len(l.classes)
	out := make([][]float64, len(rows))
	flat := make([]float64, len(rows)*nc)
	s := make([]float64, l.lin.k)
	for i, row := range rows {
		p := flat[i*nc : (i+1)*nc : (i+1)*nc]
		l.lin.decision(row, s)
		switch {
		case l.ovr && l.lin.k == 1:
			p[1] = expit(s[0])
			p[0] = 1 - p[1]
		case l.ovr:
			for j, d := range s {
				p[j] = expit(d)
			}
			sum := pairwiseSum(p)
			for j := range p {
				p[j] /= sum
			}
		case l.lin.k == 1:
			p[0], p[1] = -s[0], s[0]
			softmaxInPlace(p)
		default:
			copy(p, s)
			softmaxInPlace(p)
		}
		out[i] = p
	}
	return out, nil
}
