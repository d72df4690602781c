package serve

import (
	"errors"
	"math"

	"github.com/strata-ml/strata/internal/model"
)

// fakeClassifier predicts class int(row[0]) mod len(classes) (0 for NaN),
// with probability 1.
type fakeClassifier struct {
	nf      int
	classes []any
	nan     bool
	hook    func() // called in every Predict, for tests that block or panic
	broken  bool   // Predict fails
}

func (f *fakeClassifier) NumFeatures() int { return f.nf }
func (f *fakeClassifier) Classes() []any   { return f.classes }
func (f *fakeClassifier) Info() model.Info {
	return model.Info{
		Estimator:      "FakeClassifier",
		Class:          "tests.FakeClassifier",
		AllowsNaN:      f.nan,
		SklearnVersion: "1.2.1",
	}
}

func (f *fakeClassifier) index(row []float64) int {
	if math.IsNaN(row[0]) {
		return 0
	}
	i := int(math.Abs(row[0])) % len(f.classes)
	return i
}

func (f *fakeClassifier) Predict(rows [][]float64) ([]any, error) {
	if f.hook != nil {
		f.hook()
	}
	if f.broken {
		return nil, errors.New("the fake is broken")
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		if len(r) != f.nf {
			return nil, errors.New("wrong number of features")
		}
		out[i] = f.classes[f.index(r)]
	}
	return out, nil
}

func (f *fakeClassifier) PredictProba(rows [][]float64) ([][]float64, error) {
	if f.hook != nil {
		f.hook()
	}
	out := make([][]float64, len(rows))
	for i, r := range rows {
		p := make([]float64, len(f.classes))
		p[f.index(r)] = 1
		out[i] = p
	}
	return out, nil
}

// fakeRegressor predicts the sum of a row.
type fakeRegressor struct{ nf int }

func (f *fakeRegressor) NumFeatures() int { return f.nf }
func (f *fakeRegressor) Info() model.Info {
	return model.Info{Estimator: "FakeRegressor", Class: "tests.FakeRegressor"}
}

func (f *fakeRegressor) Predict(rows [][]float64) ([]any, error) {
	out := make([]any, len(rows))
	for i, r := range rows {
		s := 0.0
		for _, v := range r {
			s += v
		}
		out[i] = s
	}
	return out, nil
}

func iris() *fakeClassifier {
	return &fakeClassifier{nf: 4, classes: []any{int64(0), int64(1), int64(2)}}
}

var (
	_ model.Classifier = (*fakeClassifier)(nil)
	_ model.Model      = (*fakeRegressor)(nil)
)
