//go:build !linux && !darwin

package builder

import "os"

// fileIdentity keeps size and modification time only: there is no inode or
// change time in a portable form here, so replacement by a file of the same
// size and time goes unnoticed and the build cache is disabled.
func fileIdentity(fi os.FileInfo) fileID {
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}
