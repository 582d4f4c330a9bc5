// Command gendocs writes the CLI reference (docs/cli/*.md) from the cobra
// commands: `go run ./hack/gendocs` (make docs). A test fails when the
// committed reference is stale.
package main

import (
	"fmt"
	"os"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/docgen"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := docgen.GenDocs(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
