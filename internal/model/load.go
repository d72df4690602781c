package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// Load reads a fitted estimator from a pickle or joblib file at path,
// executing nothing in it. The Model it returns is immutable and safe for
// concurrent use.
func Load(path string) (Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Read(filepath.Base(path), data)
}

// Read is Load over bytes already in memory; name is used in error messages.
func Read(name string, data []byte) (m Model, err error) {
	// Belt and braces: decoding and building check their input, but a bug
	// must not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%s: malformed model file (loader panicked: %v)", name, r)
		}
	}()
	v, err := unpickle.Decode(data, allowed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := &builder{}
	est, err := b.build(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m, ok := est.(Model)
	if !ok {
		return nil, fmt.Errorf("%s: %s is a transformer, not a model that predicts", name, est.info().Estimator)
	}
	return m, nil
}

// estimator is what every supported class builds into.
type estimator interface {
	info() Info
}

// transformer is an estimator usable as a Pipeline step before the last.
type transformer interface {
	estimator
	numFeatures() int
	// transform returns new rows; it must not modify its input.
	transform(rows [][]float64) ([][]float64, error)
}

// buildFunc turns an allowed class's attributes into an estimator.
type buildFunc func(b *builder, o *unpickle.Object, a attrs) (estimator, error)

// classes maps a scikit-learn class name to its builder. The module is
// checked separately (see allowed), so pickles from any sklearn version that
// keeps the class name load.
var classes map[string]buildFunc

func init() {
	classes = map[string]buildFunc{
		"DecisionTreeClassifier":     buildTreeClassifier,
		"ExtraTreeClassifier":        buildTreeClassifier,
		"DecisionTreeRegressor":      buildTreeRegressor,
		"ExtraTreeRegressor":         buildTreeRegressor,
		"RandomForestClassifier":     buildForestClassifier,
		"ExtraTreesClassifier":       buildForestClassifier,
		"RandomForestRegressor":      buildForestRegressor,
		"ExtraTreesRegressor":        buildForestRegressor,
		"GradientBoostingClassifier": buildGBClassifier,
		"GradientBoostingRegressor":  buildGBRegressor,
		"LogisticRegression":         buildLogistic,
		"LinearRegression":           buildLinear,
		"Ridge":                      buildLinear,
		"Lasso":                      buildLinear,
		"ElasticNet":                 buildLinear,
		"StandardScaler":             buildStandardScaler,
		"MinMaxScaler":               buildMinMaxScaler,
		"Pipeline":                   buildPipeline,
	}
}

// helperModules are the sklearn modules whose internal classes the supported
// estimators pickle; they are rebuilt as inert data and read by name.
var helperClasses = map[string]bool{
	"sklearn.tree._tree.Tree":       true,
	"sklearn.dummy.DummyClassifier": true,
	"sklearn.dummy.DummyRegressor":  true,
}

// allowed is the allowlist of classes handed to the unpickler: the supported
// estimators under any sklearn module, and the internals they pickle.
func allowed(module, name string) bool {
	if !strings.HasPrefix(module, "sklearn.") {
		return false
	}
	if helperClasses[module+"."+name] {
		return true
	}
	switch module {
	case "sklearn.ensemble._gb_losses", "sklearn.ensemble.gb_losses":
		return gbLosses[name] != ""
	case "sklearn._loss.loss", "sklearn._loss.link", "sklearn._loss._loss":
		return newLossClasses(name)
	}
	_, ok := classes[name]
	return ok
}

// builder builds estimators from decoded objects.
type builder struct {
	depth int // estimators being built, outermost first
	// built caches estimators by object: a pickle's memo lets one object be
	// referenced many times (cheaply in bytes), so each is built once.
	built map[*unpickle.Object]estimator
}

// maxDepth bounds estimators nested in estimators (pipelines of pipelines).
const maxDepth = 16

// build turns a decoded value into an estimator. A pickle's memo can make
// an estimator contain itself, so nesting is bounded.
func (b *builder) build(v any) (estimator, error) {
	if b.depth >= maxDepth {
		return nil, fmt.Errorf("estimators nest more than %d deep", maxDepth)
	}
	b.depth++
	defer func() { b.depth-- }()
	o, ok := v.(*unpickle.Object)
	if !ok {
		return nil, fmt.Errorf("file holds %s, not a scikit-learn estimator", unpickle.Describe(v))
	}
	if est, ok := b.built[o]; ok {
		return est, nil
	}
	f, ok := classes[o.Class.Name]
	if !ok {
		return nil, fmt.Errorf("%s is not an estimator strata serves", o.Class)
	}
	a, err := newAttrs(o)
	if err != nil {
		return nil, err
	}
	est, err := f(b, o, a)
	if err != nil {
		return nil, fmt.Errorf("%s.%w", o.Class.Name, err)
	}
	if b.built == nil {
		b.built = map[*unpickle.Object]estimator{}
	}
	b.built[o] = est
	return est, nil
}

// newInfo fills the parts of Info every estimator shares.
func newInfo(o *unpickle.Object, a attrs) Info {
	v, _ := a.lookup("_sklearn_version").(string)
	return Info{Estimator: o.Class.Name, Class: o.Class.String(), SklearnVersion: v}
}

// errNoRows is returned for empty input.
var errNoRows = errors.New("no rows to predict")
