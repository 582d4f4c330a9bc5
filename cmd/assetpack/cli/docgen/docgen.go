// Package docgen writes the CLI reference (docs/cli) from assetpack's cobra
// commands. It is its own package so that the assetpack binary does not link
// cobra/doc and its Markdown and man-page renderers (their package
// initialization slowed every command).
package docgen

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
)

// GenDocs writes one Markdown page per command into dir (replacing it).
func GenDocs(dir string) error {
	root := cli.NewRoot(os.Stdin, io.Discard, io.Discard)
	root.DisableAutoGenTag = true // no date: the pages must be reproducible
	for _, c := range root.Commands() {
		disableAutoGen(c)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Defaults that depend on the machine are shown as written in the code.
	return doc.GenMarkdownTreeCustom(root, dir, func(string) string { return "" }, func(s string) string {
		return strings.TrimSuffix(filepath.Base(s), ".md") + ".md"
	})
}

func disableAutoGen(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, s := range c.Commands() {
		disableAutoGen(s)
	}
}
