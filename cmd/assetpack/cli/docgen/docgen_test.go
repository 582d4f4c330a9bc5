package docgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCLIReferenceIsCurrent fails when docs/cli is stale: run `make docs`.
func TestCLIReferenceIsCurrent(t *testing.T) {
	t.Setenv("ASSETPACK_CONFIG", "")
	t.Setenv("ASSETPACK_DEBUG", "")
	dir := t.TempDir()
	if err := GenDocs(dir); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "..", "..", "docs", "cli")
	got, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	want, _ := filepath.Glob(filepath.Join(committed, "*.md"))
	if len(got) != len(want) {
		t.Errorf("docs/cli has %d pages, the commands make %d: run make docs", len(want), len(got))
	}
	for _, g := range got {
		a, _ := os.ReadFile(g)
		b, err := os.ReadFile(filepath.Join(committed, filepath.Base(g)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("docs/cli/%s is stale: run make docs", filepath.Base(g))
		}
	}
}
