package options

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestStringArrayIsPflags: the lighter flag parses, formats and prints in
// help as pflag's own stringArray does.
func TestStringArrayIsPflags(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--x", "a"},
		{"--x", "a,b", "-x", "c"},
		{"--x=", "--x", `say "hi"`, "--x", "line\nbreak", "--x", "plain", "--x", " lead", "--x", `\.`},
	} {
		for _, def := range [][]string{nil, {"d1", "d,2"}} {
			var ours, theirs []string
			a := pflag.NewFlagSet("ours", pflag.ContinueOnError)
			StringArrayVarP(a, &ours, "x", "x", def, "usage")
			b := pflag.NewFlagSet("pflag", pflag.ContinueOnError)
			b.StringArrayVarP(&theirs, "x", "x", def, "usage")
			if err := a.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := b.Parse(args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ours, theirs) {
				t.Errorf("%q (default %q): values %q, pflag %q", args, def, ours, theirs)
			}
			fa, fb := a.Lookup("x"), b.Lookup("x")
			if fa.Value.Type() != fb.Value.Type() {
				t.Errorf("Type() = %q, pflag %q", fa.Value.Type(), fb.Value.Type())
			}
			if len(ours) > 0 && fa.Value.String() != fb.Value.String() {
				t.Errorf("%q: String() = %q, pflag %q", args, fa.Value.String(), fb.Value.String())
			}
			if ua, ub := a.FlagUsages(), b.FlagUsages(); ua != ub {
				t.Errorf("default %q: help\n%s\npflag's\n%s", def, ua, ub)
			}
			if strings.Contains(a.FlagUsages(), "(default [])") {
				t.Errorf("help shows an empty default: %s", a.FlagUsages())
			}
		}
	}
}
