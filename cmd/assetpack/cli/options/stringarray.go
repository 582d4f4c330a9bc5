package options

import (
	"bytes"
	"encoding/csv"
	"strings"

	"github.com/spf13/pflag"
)

// StringArrayVarP defines a repeatable string flag, as pflag's
// StringArrayVarP does: each use adds one value, commas and all, and the
// first use replaces the default. It is the same flag with a lighter value:
// pflag formats the default of every string-array flag when the flag is
// defined, through an encoding/csv writer and a new 4 KiB buffer, and the
// CLI defines about 60 of them on every start, `--version` included. Those
// buffers were 7% of a start's page faults (issue 24: start within 3× of a
// Go hello-world). The flag's type stays "stringArray" for help, completion
// and the generated reference.
func StringArrayVarP(fs *pflag.FlagSet, p *[]string, name, shorthand string, value []string, usage string) {
	*p = value
	fs.VarP(&stringArray{p: p}, name, shorthand, usage)
}

// StringArrayVar is StringArrayVarP without a shorthand.
func StringArrayVar(fs *pflag.FlagSet, p *[]string, name string, value []string, usage string) {
	StringArrayVarP(fs, p, name, "", value, usage)
}

type stringArray struct {
	p   *[]string
	set bool
}

var _ pflag.SliceValue = (*stringArray)(nil)

func (s *stringArray) Set(v string) error {
	if !s.set {
		*s.p = []string{v}
		s.set = true
		return nil
	}
	*s.p = append(*s.p, v)
	return nil
}

func (s *stringArray) Type() string { return "stringArray" }

// String formats the values as pflag does, through encoding/csv ("[a,b]",
// a value with a comma, a quote or a leading space quoted). No value
// formats as "", not as pflag's "[]": help leaves out a default of "" but
// knows "[]" as empty only for its own types, and the empty default is what
// every start formats.
func (s *stringArray) String() string {
	if len(*s.p) == 0 {
		return ""
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(*s.p)
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

func (s *stringArray) Append(v string) error {
	*s.p = append(*s.p, v)
	return nil
}

func (s *stringArray) Replace(vs []string) error {
	*s.p = append([]string(nil), vs...)
	return nil
}

func (s *stringArray) GetSlice() []string { return *s.p }
