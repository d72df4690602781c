// Package model loads fitted scikit-learn estimators from pickle and joblib
// files without executing anything in them, and predicts with them in Go.
package model

// Model is a fitted estimator loaded from a file. Models are immutable once
// loaded and safe for concurrent use by multiple goroutines.
type Model interface {
	// NumFeatures is the number of features every row must have
	// (scikit-learn's n_features_in_).
	NumFeatures() int
	// Predict returns one prediction per row: a class label for classifiers
	// (int64, float64, string or bool, as the pickle holds it) and a float64
	// for regressors.
	Predict(rows [][]float64) ([]any, error)
	// Info describes the estimator.
	Info() Info
}

// Classifier is a Model that also estimates class probabilities.
type Classifier interface {
	Model
	// Classes are the class labels in the order of PredictProba's columns.
	Classes() []any
	// PredictProba returns one probability row per input row.
	PredictProba(rows [][]float64) ([][]float64, error)
}

// Info describes a loaded estimator.
type Info struct {
	// Estimator is the scikit-learn class name, with a Pipeline's steps:
	// "RandomForestClassifier", "Pipeline(StandardScaler, LogisticRegression)".
	Estimator string
	// Class is the full Python class path of the outermost estimator,
	// "sklearn.ensemble._forest.RandomForestClassifier".
	Class string
	// AllowsNaN says whether the model accepts NaN features (missing values).
	AllowsNaN bool
	// SklearnVersion is the _sklearn_version recorded in the pickle, if any.
	SklearnVersion string
}
