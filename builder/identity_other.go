//go:build !linux && !darwin

package builder

import "os"

// fileIdentity is not available here (no inode or change time in a
// portable form): the build cache is disabled.
func fileIdentity(os.FileInfo) (id [5]int64, ok bool) { return id, false }
