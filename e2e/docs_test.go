//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"

	"github.com/assetpack/assetpack/internal/doctest"
)

// TestDocumentedCommandsWithTools runs the documented command lines that
// use a third-party program (kustomize, kpt, jq; doctest.ThirdParty), which
// the unit suite's TestDocumentedCommands (cmd/assetpack/docs_test.go)
// leaves here, as the rest of their block: with the real binary against
// Debian's registry.
func TestDocumentedCommandsWithTools(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := doctest.Extract(root)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]string{}
	for name := range doctest.ThirdParty {
		tools[name] = tool(t, name)
	}
	doctest.Run(t, cmds, doctest.Config{
		Root:           root,
		Registry:       startRegistry(t, registryOpts{}).Host,
		Assetpack:      bin,
		Tools:          tools,
		ThirdPartyOnly: true,
	})
}
