package builder

import (
	"io/fs"
	"os"
)

// fileID is what the walk keeps of a file's metadata (a few words instead of
// an os.FileInfo, which matters with 100,000s of files): the read checks it
// again, and the build cache keys on it.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds
	full         bool  // dev, ino and ctime are known (Linux, macOS)
}

// same reports whether b is still the file a was: same inode (where known),
// size and modification time.
func (a fileID) same(b fileID) bool {
	return a.dev == b.dev && a.ino == b.ino && a.size == b.size && a.mtime == b.mtime && a.full == b.full
}

// statInfo is what the walk keeps of an lstat: the type and permission bits
// and the identity.
type statInfo struct {
	mode fs.FileMode
	id   fileID
	fi   os.FileInfo // where identities are not full: for os.SameFile
}

func statOf(fi os.FileInfo) statInfo {
	return statInfo{mode: fi.Mode(), id: fileIdentity(fi), fi: fi}
}

// sameFile reports whether a and b are the same file (loop detection).
func (a statInfo) sameFile(b statInfo) bool {
	if a.id.full && b.id.full {
		return a.id.dev == b.id.dev && a.id.ino == b.id.ino
	}
	return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi)
}
