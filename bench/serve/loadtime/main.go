// Command loadtime measures how long strata takes to load a model file:
// the first load in a fresh process, and the median of the loads after it.
// bench/serve.sh runs it.
package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/strata-ml/strata/internal/model"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadtime MODEL [N]")
		os.Exit(2)
	}
	n := 50
	if len(os.Args) > 2 {
		var err error
		if n, err = strconv.Atoi(os.Args[2]); err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "loadtime: N must be a positive number")
			os.Exit(2)
		}
	}
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if _, err := model.Load(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtime:", err)
			os.Exit(1)
		}
		times[i] = time.Since(start)
	}
	first := times[0]
	rest := times[1:]
	if len(rest) == 0 {
		rest = times
	}
	slices.Sort(rest)
	// Milliseconds: the first load, then the median of the others.
	fmt.Printf("%.3f %.3f\n", ms(first), ms(rest[len(rest)/2]))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
