// Command strata is Docker for machine learning as one daemonless binary:
// it builds, stores, runs, ships and serves images and models.
package main

import (
	"context"
	_ "github.com/strata-ml/strata/internal/prefault"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-ml/strata/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
