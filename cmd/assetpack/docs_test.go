package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/assetpack/assetpack/internal/doctest"
	"github.com/assetpack/assetpack/internal/testregistry"
)

// TestDocumentedCommands runs every command line of README.md, docs/ and
// the Example: sections of --help (docs/cli, kept equal to the commands by
// TestCLIReferenceIsCurrent in cli/docgen) with this binary against an in-process registry on
// 127.0.0.1. It belongs in the hermetic suite: the registry is the one the
// other unit tests use and the binary is this test binary, so a broken
// documented command fails `go test ./...`, not only the slower e2e run.
// Commands that use a third-party program (kustomize, kpt, jq) run in the
// e2e suite (e2e/docs_test.go), which installs them.
func TestDocumentedCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every documented command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := doctest.Extract(root)
	if err != nil {
		t.Fatal(err)
	}
	doctest.CheckAllowList(t, cmds)
	doctest.Run(t, cmds, doctest.Config{
		Root:      root,
		Registry:  testregistry.New(t, testregistry.WithReferrers()),
		Assetpack: os.Args[0],
		Env:       []string{"ASSETPACK_TEST_MAIN=1"},
	})
}
