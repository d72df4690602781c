package model

import (
	"fmt"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// subTrees builds a forest's estimators_: fitted trees of the given kind
// ("Classifier" or "Regressor") over nFeatures features with width values.
func subTrees(b *builder, a attrs, nFeatures, width int, classifier bool) ([]*tree, bool, error) {
	v, err := a.get("estimators_")
	if err != nil {
		return nil, false, err
	}
	items, ok := unpickle.Seq(v)
	if !ok || len(items) == 0 {
		return nil, false, fmt.Errorf("estimators_: %s is not a non-empty list of trees", unpickle.Describe(v))
	}
	trees := make([]*tree, len(items))
	allowNaN := true
	for i, item := range items {
		est, err := b.build(item)
		if err != nil {
			return nil, false, fmt.Errorf("estimators_[%d]: %w", i, err)
		}
		var t *tree
		var meta Info
		var n int
		switch e := est.(type) {
		case *treeClassifier:
			if !classifier || len(e.classes) != width {
				return nil, false, fmt.Errorf("estimators_[%d]: %s with %d classes does not fit this forest", i, e.meta.Estimator, len(e.classes))
			}
			t, meta, n = e.tree, e.meta, e.rule.features
		case *treeRegressor:
			if classifier {
				return nil, false, fmt.Errorf("estimators_[%d]: %s in a classifier forest", i, e.meta.Estimator)
			}
			t, meta, n = e.tree, e.meta, e.rule.features
		default:
			return nil, false, fmt.Errorf("estimators_[%d]: %s is not a tree", i, est.info().Estimator)
		}
		if n != nFeatures {
			return nil, false, fmt.Errorf("estimators_[%d]: tree has %d features, forest has %d", i, n, nFeatures)
		}
		allowNaN = allowNaN && meta.AllowsNaN
		trees[i] = t
	}
	return trees, allowNaN, nil
}

// forestClassifier is RandomForestClassifier or ExtraTreesClassifier.
type forestClassifier struct {
	meta    Info
	rule    inputRule
	classes []any
	trees   []*tree
	sum     ensemble // each tree's normalised class probabilities
}

func buildForestClassifier(b *builder, o *unpickle.Object, a attrs) (estimator, error) {
	f := &forestClassifier{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if f.classes, err = a.labels("classes_"); err != nil {
		return nil, err
	}
	if outs, err := a.int("n_outputs_"); err != nil || outs != 1 {
		return nil, fmt.Errorf("n_outputs_: only single-output classifiers are supported (%v)", err)
	}
	var allowNaN bool
	if f.trees, allowNaN, err = subTrees(b, a, n, len(f.classes), true); err != nil {
		return nil, err
	}
	// Forests accept NaN from sklearn 1.4 when their trees do.
	f.meta.AllowsNaN = allowNaN && parseVersion(f.meta.SklearnVersion).atLeast(1, 4)
	f.rule = inputRule{name: f.meta.Estimator, features: n, allowNaN: f.meta.AllowsNaN, float32In: true}
	k := len(f.classes)
	f.sum = ensemble{trees: f.trees, vals: make([][]float64, len(f.trees)), width: k, features: n}
	for i, t := range f.trees {
		// A tree's predict_proba is its leaf's weights normalised; do it
		// once per leaf here rather than once per row.
		p := make([]float64, len(t.values))
		for l := 0; l < len(p); l += k {
			treeProba(t.values[l:l+k], p[l:l+k])
		}
		f.sum.vals[i] = p
	}
	return f, nil
}

func (f *forestClassifier) info() Info { return f.meta }

// Info implements Model.
func (f *forestClassifier) Info() Info { return f.meta }

// NumFeatures implements Model.
func (f *forestClassifier) NumFeatures() int { return f.rule.features }

// Classes implements Classifier.
func (f *forestClassifier) Classes() []any { return append([]any(nil), f.classes...) }

// PredictProba implements Classifier. It computes what
// ForestClassifier.predict_proba does: for each row, each tree's normalised
// probabilities added in tree order to zeros, then divided by the tree count.
func (f *forestClassifier) PredictProba(rows [][]float64) ([][]float64, error) {
	if err := f.rule.check(rows); err != nil {
		return nil, err
	}
	k := len(f.classes)
	out := make([][]float64, len(rows))
	flat := make([]float64, len(rows)*k)
	n := float64(len(f.trees))
	f.sum.run(rows, func(lo int, sums []float64) {
		for r := 0; r < len(sums)/k; r++ {
			p := flat[(lo+r)*k : (lo+r+1)*k : (lo+r+1)*k]
			for j, v := range sums[r*k : (r+1)*k] {
				p[j] = v / n
			}
			out[lo+r] = p
		}
	})
	return out, nil
}

// Predict implements Model: the class of the largest probability.
func (f *forestClassifier) Predict(rows [][]float64) ([]any, error) {
	if err := f.rule.check(rows); err != nil {
		return nil, err
	}
	k := len(f.classes)
	out := make([]any, len(rows))
	n := float64(len(f.trees))
	f.sum.run(rows, func(lo int, sums []float64) {
		for r := 0; r < len(sums)/k; r++ {
			p := sums[r*k : (r+1)*k]
			for j := range p {
				p[j] /= n
			}
			out[lo+r] = f.classes[argmax(p)]
		}
	})
	return out, nil
}

// forestRegressor is RandomForestRegressor or ExtraTreesRegressor.
type forestRegressor struct {
	meta  Info
	rule  inputRule
	trees []*tree
	sum   ensemble
}

func buildForestRegressor(b *builder, o *unpickle.Object, a attrs) (estimator, error) {
	f := &forestRegressor{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if outs, err := a.int("n_outputs_"); err != nil || outs != 1 {
		return nil, fmt.Errorf("n_outputs_: only single-output regressors are supported (%v)", err)
	}
	var allowNaN bool
	if f.trees, allowNaN, err = subTrees(b, a, n, 1, false); err != nil {
		return nil, err
	}
	f.meta.AllowsNaN = allowNaN && parseVersion(f.meta.SklearnVersion).atLeast(1, 4)
	f.rule = inputRule{name: f.meta.Estimator, features: n, allowNaN: f.meta.AllowsNaN, float32In: true}
	f.sum = ensemble{trees: f.trees, vals: make([][]float64, len(f.trees)), width: 1, features: n}
	for i, t := range f.trees {
		f.sum.vals[i] = t.values
	}
	return f, nil
}

func (f *forestRegressor) info() Info { return f.meta }

// Info implements Model.
func (f *forestRegressor) Info() Info { return f.meta }

// NumFeatures implements Model.
func (f *forestRegressor) NumFeatures() int { return f.rule.features }

// Predict averages the trees as ForestRegressor.predict does: summed in
// order from zero, then divided by the tree count.
func (f *forestRegressor) Predict(rows [][]float64) ([]any, error) {
	if err := f.rule.check(rows); err != nil {
		return nil, err
	}
	out := make([]any, len(rows))
	n := float64(len(f.trees))
	f.sum.run(rows, func(lo int, sums []float64) {
		for r, s := range sums {
			out[lo+r] = s / n
		}
	})
	return out, nil
}
