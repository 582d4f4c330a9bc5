package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
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
	cfg := doctest.Config{
		Root:      root,
		Registry:  testregistry.New(t, testregistry.WithReferrers()),
		Assetpack: os.Args[0],
		Env:       []string{"ASSETPACK_TEST_MAIN=1"},
	}
	// A lite build's companion goes on the documentation's PATH, as an
	// install puts it beside assetpack.
	if p := os.Getenv(cli.EnvSigstoreBinary); p != "" {
		cfg.Tools = map[string]string{cli.SigstoreBinary: p}
	}
	doctest.Run(t, cmds, cfg)
}

// TestDocumentedFlagsExist checks the commands that the documentation's
// prose names in inline code (`assetpack verify --attest-files`): the
// command and each flag must exist, so that a renamed flag cannot linger
// in a sentence. The command lines of its shell blocks are run by
// TestDocumentedCommands.
func TestDocumentedFlagsExist(t *testing.T) {
	spans, err := doctest.Spans("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) < 20 {
		t.Fatalf("found %d inline assetpack commands; the extraction is broken", len(spans))
	}
	root := cli.NewRoot(nil, io.Discard, io.Discard)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd() // cobra adds them when it runs
	for _, s := range spans {
		c, _, err := root.Find(s.Args)
		if err != nil || c == root {
			t.Errorf("%s:%d: `assetpack %s`: no such command", s.File, s.Line, strings.Join(s.Args, " "))
			continue
		}
		for _, w := range s.Args {
			w = strings.Trim(w, "[]")
			name, _, _ := strings.Cut(w, "=")
			var ok bool
			switch {
			case strings.HasPrefix(name, "--"):
				ok = c.Flag(name[2:]) != nil
			case len(name) == 2 && name[0] == '-' && name[1] != '-':
				ok = c.Flags().ShorthandLookup(name[1:]) != nil || c.InheritedFlags().ShorthandLookup(name[1:]) != nil
			default:
				continue
			}
			if !ok {
				t.Errorf("%s:%d: `assetpack %s`: %s has no flag %s", s.File, s.Line, strings.Join(s.Args, " "), c.CommandPath(), name)
			}
		}
	}
}

// TestExamplesAreRun: the Example: section of every command is in its
// docs/cli page, whose shell blocks TestDocumentedCommands runs (cobra's
// generator writes it there; TestCLIReferenceIsCurrent keeps the pages
// current, and this keeps the link between the two explicit).
func TestExamplesAreRun(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Example != "" && c.IsAvailableCommand() {
			n++
			page := filepath.Join("../../docs/cli", strings.ReplaceAll(c.CommandPath(), " ", "_")+".md")
			b, err := os.ReadFile(page)
			if err != nil || !strings.Contains(string(b), "### Examples\n\n```\n"+c.Example+"\n```") {
				t.Errorf("%s: the Example: section is not under ### Examples in %s (%v): run make docs", c.CommandPath(), page, err)
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cli.NewRoot(nil, io.Discard, io.Discard))
	if n < 10 {
		t.Errorf("only %d commands have examples", n)
	}
}
