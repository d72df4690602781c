package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// gbLoss is how a gradient boosting model turns raw predictions into
// outputs.
type gbLoss int

const (
	lossRegression  gbLoss = iota // identity: squared, absolute, huber, quantile
	lossBinomial                  // log-loss, binary: expit(raw)
	lossExponential               // AdaBoost loss, binary: expit(2*raw)
	lossMultinomial               // log-loss, K classes: softmax(raw)
)

// gbLosses maps the loss classes sklearn < 1.4 pickles
// (sklearn.ensemble._gb_losses) to what strata does with them; "" marks a
// name that is not allowed.
var gbLosses = map[string]string{
	"LeastSquaresError":    "regression",
	"LeastAbsoluteError":   "regression",
	"HuberLossFunction":    "regression",
	"QuantileLossFunction": "regression",
	"BinomialDeviance":     "binomial",
	"ExponentialLoss":      "exponential",
	"MultinomialDeviance":  "multinomial",
}

// newGBLosses maps the loss classes of sklearn >= 1.4 (sklearn._loss.loss).
var newGBLosses = map[string]string{
	"HalfSquaredError":    "regression",
	"AbsoluteError":       "regression",
	"HuberLoss":           "regression",
	"PinballLoss":         "regression",
	"HalfBinomialLoss":    "binomial",
	"ExponentialLoss":     "exponential",
	"HalfMultinomialLoss": "multinomial",
}

// newLossClasses says which names under sklearn._loss may be rebuilt (as
// inert data) for sklearn >= 1.4 gradient boosting pickles: the losses,
// their links and intervals, and the Cython loss objects (CyHalfBinomialLoss
// ...) with their __pyx_unpickle_ helpers. Only the loss's class name is
// read; the rest stays inert.
func newLossClasses(name string) bool {
	switch name {
	case "IdentityLink", "LogitLink", "HalfLogitLink", "MultinomialLogit", "LogLink", "Interval":
		return true
	}
	return newGBLosses[name] != "" || strings.HasPrefix(name, "__pyx_unpickle_Cy") || strings.HasPrefix(name, "Cy")
}

// gradientBoosting is GradientBoostingClassifier or GradientBoostingRegressor.
type gradientBoosting struct {
	meta    Info
	rule    inputRule
	classes []any // nil for the regressor
	loss    gbLoss
	newAPI  bool      // sklearn >= 1.4 loss objects
	stages  [][]*tree // [stage][k]
	lr      float64   // learning_rate
	init    []float64 // raw prediction of init_, per k
}

func buildGBClassifier(b *builder, o *unpickle.Object, a attrs) (estimator, error) {
	return buildGB(b, o, a, true)
}

func buildGBRegressor(b *builder, o *unpickle.Object, a attrs) (estimator, error) {
	return buildGB(b, o, a, false)
}

func buildGB(b *builder, o *unpickle.Object, a attrs, classifier bool) (estimator, error) {
	g := &gradientBoosting{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	g.rule = inputRule{name: g.meta.Estimator, features: n, float32In: true}
	if g.lr, err = a.float("learning_rate"); err != nil {
		return nil, err
	}
	lossObj, err := a.object("_loss")
	if err != nil {
		return nil, err
	}
	kind := gbLosses[lossObj.Class.Name]
	if strings.HasPrefix(lossObj.Class.Module, "sklearn._loss") {
		kind, g.newAPI = newGBLosses[lossObj.Class.Name], true
	}
	switch kind {
	case "regression":
		g.loss = lossRegression
	case "binomial":
		g.loss = lossBinomial
	case "exponential":
		g.loss = lossExponential
	case "multinomial":
		g.loss = lossMultinomial
	default:
		return nil, fmt.Errorf("_loss: %s is not a supported loss", lossObj.Class)
	}
	k := 1
	if classifier {
		if g.loss == lossRegression {
			return nil, fmt.Errorf("_loss: %s is a regression loss", lossObj.Class.Name)
		}
		if g.classes, err = a.labels("classes_"); err != nil {
			return nil, err
		}
		if g.loss == lossMultinomial {
			k = len(g.classes)
		} else if len(g.classes) != 2 {
			return nil, fmt.Errorf("classes_: %d classes with binary loss %s", len(g.classes), lossObj.Class.Name)
		}
	} else if g.loss != lossRegression {
		return nil, fmt.Errorf("_loss: %s is a classification loss", lossObj.Class.Name)
	}
	if g.stages, err = gbStages(b, a, n, k); err != nil {
		return nil, err
	}
	if g.init, err = g.initRaw(a, k); err != nil {
		return nil, fmt.Errorf("init_: %w", err)
	}
	if classifier {
		return gbClassifier{g}, nil
	}
	return g, nil
}

// gbStages reads estimators_, an object ndarray of shape (stages, k) of
// regression trees.
func gbStages(b *builder, a attrs, nFeatures, k int) ([][]*tree, error) {
	arr, err := a.array("estimators_")
	if err != nil {
		return nil, err
	}
	if len(arr.Shape) != 2 || arr.Shape[1] != k || arr.Shape[0] == 0 || arr.Dtype.Kind != 'O' {
		return nil, fmt.Errorf("estimators_: shape %v of %s, want (stages, %d) objects", arr.Shape, arr.Dtype, k)
	}
	stages := make([][]*tree, arr.Shape[0])
	for i := range stages {
		stages[i] = make([]*tree, k)
		for j := 0; j < k; j++ {
			est, err := b.build(arr.Objects[i*k+j])
			if err != nil {
				return nil, fmt.Errorf("estimators_[%d, %d]: %w", i, j, err)
			}
			r, ok := est.(*treeRegressor)
			if !ok {
				return nil, fmt.Errorf("estimators_[%d, %d]: %s is not a regression tree", i, j, est.info().Estimator)
			}
			if r.rule.features != nFeatures {
				return nil, fmt.Errorf("estimators_[%d, %d]: tree has %d features, model has %d", i, j, r.rule.features, nFeatures)
			}
			stages[i][j] = r.tree
		}
	}
	return stages, nil
}

// f32eps is numpy.finfo(numpy.float32).eps, which sklearn clips priors with.
const f32eps = 0x1p-23

// initRaw computes the raw prediction of init_ (a constant: the Dummy
// estimators gradient boosting uses predict the same for every row), with
// the arithmetic of the loss's get_init_raw_predictions.
func (g *gradientBoosting) initRaw(a attrs, k int) ([]float64, error) {
	v, err := a.get("init_")
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok && s == "zero" {
		return make([]float64, k), nil
	}
	o, ok := v.(*unpickle.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not 'zero' or a Dummy estimator", unpickle.Describe(v))
	}
	ia, err := newAttrs(o)
	if err != nil {
		return nil, err
	}
	if g.loss == lossRegression {
		if o.Class.Name != "DummyRegressor" {
			return nil, fmt.Errorf("%s: only DummyRegressor init estimators are supported", o.Class.Name)
		}
		c, err := ia.vector("constant_", -1)
		if err != nil {
			// constant_ has shape (1, n_outputs).
			fs, shape, err2 := ia.floats("constant_")
			if err2 != nil || len(shape) != 2 || shape[0] != 1 || shape[1] != 1 {
				return nil, fmt.Errorf("DummyRegressor.constant_: want one value (%v)", err)
			}
			c = fs
		}
		if len(c) != 1 {
			return nil, fmt.Errorf("DummyRegressor.constant_: %d outputs, want 1", len(c))
		}
		return []float64{c[0]}, nil
	}
	p, err := dummyProba(o, ia, len(g.classes))
	if err != nil {
		return nil, err
	}
	clip := func(x float64) float64 { return math.Min(math.Max(x, f32eps), 1-f32eps) }
	switch g.loss {
	case lossBinomial, lossExponential:
		p1 := clip(p[1])
		raw := math.Log(p1 / (1 - p1))
		if g.loss == lossExponential {
			raw = 0.5 * raw
		}
		return []float64{raw}, nil
	}
	raw := make([]float64, k)
	for j := range raw {
		raw[j] = clip(p[j])
	}
	if g.newAPI {
		// MultinomialLogit.link: log(p / gmean(p)), gmean = exp(mean(log p)).
		logs := make([]float64, k)
		for j, x := range raw {
			logs[j] = math.Log(x)
		}
		gm := math.Exp(pairwiseSum(logs) / float64(k))
		for j, x := range raw {
			raw[j] = math.Log(x / gm)
		}
		return raw, nil
	}
	for j, x := range raw {
		raw[j] = math.Log(x)
	}
	return raw, nil
}

// dummyProba is DummyClassifier.predict_proba for the deterministic
// strategies.
func dummyProba(o *unpickle.Object, a attrs, nClasses int) ([]float64, error) {
	if o.Class.Name != "DummyClassifier" {
		return nil, fmt.Errorf("%s: only DummyClassifier init estimators are supported", o.Class.Name)
	}
	prior, err := a.vector("class_prior_", nClasses)
	if err != nil {
		return nil, fmt.Errorf("DummyClassifier.%w", err)
	}
	strategy, _ := a.lookup("_strategy").(string)
	if strategy == "" {
		strategy, _ = a.lookup("strategy").(string)
	}
	switch strategy {
	case "prior":
		return prior, nil
	case "most_frequent":
		p := make([]float64, nClasses)
		p[argmax(prior)] = 1
		return p, nil
	case "uniform":
		p := make([]float64, nClasses)
		for j := range p {
			p[j] = 1 / float64(nClasses)
		}
		return p, nil
	}
	return nil, fmt.Errorf("DummyClassifier strategy %q is not supported", strategy)
}

func (g *gradientBoosting) info() Info { return g.meta }

// Info implements Model.
func (g *gradientBoosting) Info() Info { return g.meta }

// NumFeatures implements Model.
func (g *gradientBoosting) NumFeatures() int { return g.rule.features }

// raw writes one row's raw predictions into r as predict_stages does:
// init, then learning_rate * tree value added stage by stage.
func (g *gradientBoosting) raw(x []float32, r []float64) {
	copy(r, g.init)
	for _, stage := range g.stages {
		for k, t := range stage {
			r[k] += float64(g.lr * t.value(x)[0])
		}
	}
}

// proba turns raw predictions into class probabilities as the loss does.
func (g *gradientBoosting) proba(r, p []float64) {
	switch g.loss {
	case lossBinomial, lossExponential:
		x := r[0]
		if g.loss == lossExponential {
			x = 2 * x
		}
		p[1] = expit(x)
		p[0] = 1 - p[1]
	case lossMultinomial:
		if g.newAPI {
			copy(p, r)
			softmaxInPlace(p)
			return
		}
		// nan_to_num(exp(raw - logsumexp(raw))), scipy's logsumexp.
		m := r[0]
		for _, v := range r[1:] {
			if v > m {
				m = v
			}
		}
		if math.IsInf(m, 0) || math.IsNaN(m) {
			m = 0
		}
		for j, v := range r {
			p[j] = math.Exp(v - m)
		}
		lse := math.Log(pairwiseSum(p)) + m
		for j, v := range r {
			e := math.Exp(v - lse)
			switch {
			case math.IsNaN(e):
				e = 0
			case math.IsInf(e, 1):
				e = math.MaxFloat64
			}
			p[j] = e
		}
	}
}

// decision picks the class index as the loss's predict does.
func (g *gradientBoosting) decision(r, p []float64) int {
	switch g.loss {
	case lossExponential:
		if r[0] >= 0 {
			return 1
		}
		return 0
	case lossBinomial:
		if g.newAPI {
			if r[0] >= 0 {
				return 1
			}
			return 0
		}
		g.proba(r, p)
		return argmax(p)
	}
	if g.newAPI {
		return argmax(r)
	}
	g.proba(r, p)
	return argmax(p)
}

// Predict implements Model.
func (g *gradientBoosting) Predict(rows [][]float64) ([]any, error) {
	if err := g.rule.check(rows); err != nil {
		return nil, err
	}
	k := len(g.init)
	r := make([]float64, k)
	p := make([]float64, max(k, 2))
	buf := make([]float32, g.rule.features)
	out := make([]any, len(rows))
	for i, row := range rows {
		g.raw(float32Row(row, buf), r)
		if g.classes == nil {
			out[i] = r[0]
			continue
		}
		out[i] = g.classes[g.decision(r, p)]
	}
	return out, nil
}

// gbClassifier exposes PredictProba only for the classifier.
type gbClassifier struct{ *gradientBoosting }

// Classes implements Classifier.
func (c gbClassifier) Classes() []any { return append([]any(nil), c.classes...) }

// PredictProba implements Classifier.
func (c gbClassifier) PredictProba(rows [][]float64) ([][]float64, error) {
	if err := c.rule.check(rows); err != nil {
		return nil, err
	}
	k, nc := len(c.init), len(c.classes)
	r := make([]float64, k)
	buf := make([]float32, c.rule.features)
	out := make([][]float64, len(rows))
	flat := make([]float64, len(rows)*nc)
	for i, row := range rows {
		c.raw(float32Row(row, buf), r)
		p := flat[i*nc : (i+1)*nc : (i+1)*nc]
		c.proba(r, p)
		out[i] = p
	}
	return out, nil
}
