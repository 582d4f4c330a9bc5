package builder

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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

// statID is fileIdentity of an fstatat result: the same values, so that
// identities from the walk and from reading a file compare equal.
func statID(st *unix.Stat_t) fileID {
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), full: true}
}
