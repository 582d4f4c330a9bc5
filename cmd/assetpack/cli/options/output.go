package options

import "github.com/spf13/pflag"

// Output holds the flags that shape what a command prints.
type Output struct {
	JSON       bool
	DigestFile string
	Quiet      bool
}

// AddFlags registers the output flags.
func (o *Output) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print a JSON object instead of the digest reference")
	fs.StringVar(&o.DigestFile, "digest-file", "", "also write the digest (sha256:...) to this file")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
}
