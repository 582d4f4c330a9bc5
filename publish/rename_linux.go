//go:build linux

package publish

import "golang.org/x/sys/unix"

// exchange atomically swaps two paths (renameat2 RENAME_EXCHANGE), so an
// existing output is replaced without a moment where it is missing and
// concurrent writers cannot interleave.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
