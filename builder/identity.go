package builder

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
