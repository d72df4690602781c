package model

import (
	"math/rand"
	"os"
	"testing"
)

func loadBench(b *testing.B, file string) Classifier {
	b.Helper()
	m, err := Load("testdata/models/" + file)
	if err != nil {
		b.Fatal(err)
	}
	return m.(Classifier)
}

// irisRows returns n rows spread over the iris feature ranges.
func irisRows(n int) [][]float64 {
	r := rand.New(rand.NewSource(1))
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = []float64{4 + 4*r.Float64(), 2 + 2.5*r.Float64(), 1 + 6*r.Float64(), 0.1 + 2.4*r.Float64()}
	}
	return rows
}

// BenchmarkPredictIrisForest is one row through the article's 100-tree forest.
func BenchmarkPredictIrisForest(b *testing.B) {
	m := loadBench(b, "rfc_iris.p5.pkl")
	rows := [][]float64{{5.1, 3.5, 1.4, 0.2}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(rows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictProbaIrisForest is one row's probabilities.
func BenchmarkPredictProbaIrisForest(b *testing.B) {
	m := loadBench(b, "rfc_iris.p5.pkl")
	rows := [][]float64{{5.1, 3.5, 1.4, 0.2}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PredictProba(rows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictIrisForest10k is a 10,000-row batch.
func BenchmarkPredictIrisForest10k(b *testing.B) {
	m := loadBench(b, "rfc_iris.p5.pkl")
	rows := irisRows(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(rows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictProbaIrisForest10k is a 10,000-row batch's probabilities.
func BenchmarkPredictProbaIrisForest10k(b *testing.B) {
	m := loadBench(b, "rfc_iris.p5.pkl")
	rows := irisRows(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PredictProba(rows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadIrisForest decodes and builds the article's forest.
func BenchmarkLoadIrisForest(b *testing.B) {
	for _, file := range []string{"rfc_iris.p5.pkl", "rfc_iris.joblib", "rfc_iris.joblib.xz"} {
		data, err := os.ReadFile("testdata/models/" + file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(file, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(file, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
