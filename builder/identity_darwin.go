package builder

import (
	"os"
	"syscall"
)

// fileIdentity returns what the build cache compares instead of reading a
// file: device, inode, and modification and change times in nanoseconds.
// ok is false when the platform does not expose them.
func fileIdentity(fi os.FileInfo) (id [5]int64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return id, false
	}
	return [5]int64{int64(st.Dev), int64(st.Ino), st.Mtimespec.Nano(), st.Ctimespec.Nano(), fi.Size()}, true
}
