package builder

import (
	"os"
	"syscall"
)

// fileIdentity returns what the build keeps of a file's metadata: enough to
// notice that it was replaced or modified, and the build cache's key.
func fileIdentity(fi os.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino, id.ctime, id.full = uint64(st.Dev), st.Ino, st.Ctim.Nano(), true
	}
	return id
}
