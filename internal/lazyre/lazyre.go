// Package lazyre compiles a package-level regular expression on its first
// use instead of at process start.
//
// A regexp.MustCompile in a package variable runs in the package's
// initialisation, in every command, whether or not the command ever matches
// it; the project's ten cost about 0.3 ms and 20 page faults of each start
// (issue 24: start within 3× of a Go hello-world).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns
// the same *regexp.Regexp on every call. Like regexp.MustCompile it panics
// when expr does not compile, on that first call: give it constants only.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
