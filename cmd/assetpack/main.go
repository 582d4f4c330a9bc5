// Command assetpack packs a directory of read-only files into a deterministic
// OCI image that Kubernetes mounts with an image volume.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
