// Command assetpack packs a directory of read-only files into a deterministic
// OCI image that Kubernetes mounts with an image volume.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
)

func main() {
	// A build holds one small record per file for its whole run and
	// allocates little while it streams bytes, so a tighter heap goal than
	// Go's default (live heap × 2) costs no measurable CPU and keeps a
	// 150,000-file build under 100 MiB resident (site10: 100 -> 82 MiB).
	// GOGC set in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
