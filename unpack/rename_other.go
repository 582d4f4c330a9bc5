//go:build !linux

package unpack

import "errors"

// exchange is not available: commit falls back to two renames.
func exchange(a, b string) error { return errors.New("atomic exchange not supported on this OS") }
