// Command inproc times strata's model package in process, for
// bench/serve.sh: loading a model file (the first load in a fresh process,
// and the median of the loads after it) and, given a CSV of rows,
// predicting them all in one Model.Predict call (best of 5), on one core
// (GOMAXPROCS=1, as scikit-learn's forests predict by default) and on all
// of them (Predict splits a large batch across GOMAXPROCS goroutines).
//
// Usage: inproc MODEL [ROWS.csv]
// Prints milliseconds: "first-load median-load [predict-1-core predict-all-cores]".
package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/strata-ml/strata/internal/model"
	_ "github.com/strata-ml/strata/internal/prefault"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "inproc:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 2 {
		return fmt.Errorf("usage: inproc MODEL [ROWS.csv]")
	}
	times := make([]time.Duration, 50)
	var m model.Model
	for i := range times {
		start := time.Now()
		var err error
		if m, err = model.Load(os.Args[1]); err != nil {
			return err
		}
		times[i] = time.Since(start)
	}
	rest := slices.Clone(times[1:])
	slices.Sort(rest)
	fmt.Printf("%.3f %.3f", ms(times[0]), ms(rest[len(rest)/2]))
	if len(os.Args) > 2 {
		rows, err := readRows(os.Args[2])
		if err != nil {
			return err
		}
		predict := func() error { _, err := m.Predict(rows); return err }
		cores := runtime.GOMAXPROCS(1)
		one, err := best(predict)
		runtime.GOMAXPROCS(cores)
		if err != nil {
			return err
		}
		par, err := best(predict)
		if err != nil {
			return err
		}
		fmt.Printf(" %.3f %.3f", ms(one), ms(par))
	}
	fmt.Println()
	return nil
}

// best is the shortest of 5 runs of f.
func best(f func() error) (time.Duration, error) {
	b := time.Duration(1 << 62)
	for range 5 {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		b = min(b, time.Since(start))
	}
	return b, nil
}

func readRows(path string) ([][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	rows := make([][]float64, len(recs))
	for i, rec := range recs {
		rows[i] = make([]float64, len(rec))
		for j, s := range rec {
			if rows[i][j], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
		}
	}
	return rows, nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
