//go:build !linux

package publish

import "errors"

// exchange is not available: replaceDir falls back to two renames.
func exchange(a, b string) error { return errors.New("atomic exchange not supported on this OS") }
