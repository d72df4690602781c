package model

import (
	"fmt"
	"math"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// attrs reads a decoded estimator's attributes. Its errors start with the
// attribute name, so that build can prefix the class: "Ridge.coef_: ...".
type attrs struct {
	unpickle.Attributes
}

func newAttrs(o *unpickle.Object) (attrs, error) {
	a, err := o.Attributes()
	if err != nil {
		return attrs{}, fmt.Errorf("%s: %w", o.Class, err)
	}
	return attrs{a}, nil
}

func (a attrs) get(name string) (any, error) {
	v, ok := a.Get(name)
	if !ok {
		return nil, fmt.Errorf("%s: missing (is the estimator fitted?)", name)
	}
	return v, nil
}

func (a attrs) has(name string) bool {
	_, ok := a.Get(name)
	return ok
}

// lookup is the attribute name, nil where it is missing: for the optional
// ones.
func (a attrs) lookup(name string) any {
	v, _ := a.Get(name)
	return v
}

// int reads an integer attribute.
func (a attrs) int(name string) (int, error) {
	v, err := a.get(name)
	if err != nil {
		return 0, err
	}
	n, ok := unpickle.Int(v)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s: %s is not an integer", name, unpickle.Describe(v))
	}
	return int(n), nil
}

// float reads a numeric attribute.
func (a attrs) float(name string) (float64, error) {
	v, err := a.get(name)
	if err != nil {
		return 0, err
	}
	f, ok := unpickle.Float(v)
	if !ok {
		return 0, fmt.Errorf("%s: %s is not a number", name, unpickle.Describe(v))
	}
	return f, nil
}

// str reads a string attribute.
func (a attrs) str(name string) (string, error) {
	v, err := a.get(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: %s is not a string", name, unpickle.Describe(v))
	}
	return s, nil
}

// array reads an ndarray attribute.
func (a attrs) array(name string) (*unpickle.Array, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, err
	}
	arr, ok := v.(*unpickle.Array)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not an ndarray", name, unpickle.Describe(v))
	}
	return arr, nil
}

// floats reads a numeric ndarray (or a number) attribute as float64s, with
// its shape.
func (a attrs) floats(name string) ([]float64, []int, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, nil, err
	}
	if f, ok := unpickle.Float(v); ok {
		return []float64{f}, nil, nil
	}
	arr, ok := v.(*unpickle.Array)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %s is not an ndarray", name, unpickle.Describe(v))
	}
	fs, err := arr.Float64s()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return fs, arr.Shape, nil
}

// vector reads a 1-D float attribute of length n (n < 0: any length).
func (a attrs) vector(name string, n int) ([]float64, error) {
	fs, shape, err := a.floats(name)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 || (n >= 0 && len(fs) != n) {
		return nil, fmt.Errorf("%s: shape %v, want (%d,)", name, shape, n)
	}
	return fs, nil
}

// object reads an attribute holding an allowed class instance.
func (a attrs) object(name string) (*unpickle.Object, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*unpickle.Object)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not an object", name, unpickle.Describe(v))
	}
	return o, nil
}

// labels reads classes_ as Go values: int64, float64, string or bool.
func (a attrs) labels(name string) ([]any, error) {
	arr, err := a.array(name)
	if err != nil {
		return nil, err
	}
	if len(arr.Shape) != 1 || arr.Len() == 0 {
		return nil, fmt.Errorf("%s: shape %v, want one dimension of labels", name, arr.Shape)
	}
	vs, err := arr.Values()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, v := range vs {
		switch t := v.(type) {
		case int64, float64, string, bool:
		case uint64:
			return nil, fmt.Errorf("%s[%d]: label %d does not fit int64", name, i, t)
		default:
			return nil, fmt.Errorf("%s[%d]: label %s is not an int, float, string or bool", name, i, unpickle.Describe(v))
		}
	}
	return vs, nil
}

// nFeatures reads n_features_in_, which every fitted estimator has.
func (a attrs) nFeatures() (int, error) {
	n, err := a.int("n_features_in_")
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("n_features_in_: %d features", n)
	}
	return n, nil
}
