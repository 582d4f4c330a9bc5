//go:build tools

// Package tools pins imgpkg for the benchmark comparison (make
// bench-compare). `go install carvel.dev/imgpkg/cmd/imgpkg@v0.44.0` fails
// through this module proxy (it asks for the version list, which is
// refused), so the install script builds it from this module instead.
package tools

import _ "carvel.dev/imgpkg/cmd/imgpkg"
