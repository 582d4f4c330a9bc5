//go:build linux || darwin

package builder

import (
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lstatAt is lstat of name in the open directory dir (abs is its path, for
// errors). fstatat relative to the directory skips the lookup of every path
// component from the root and allocates no os.FileInfo: with 100,000s of
// files this is most of the walk.
func lstatAt(dir int, abs, name string) (statInfo, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return statInfo{}, &fs.PathError{Op: "lstat", Path: filepath.Join(abs, name), Err: err}
	}
	return statInfo{mode: unixMode(uint32(st.Mode)), id: statID(&st)}, nil
}

// ignoringEINTR calls f again while a signal interrupts it, as package os
// does around its own system calls.
func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// statID is fileIdentity of an fstatat result: the same values, so that
// identities from the walk and from reading a file compare equal.
func statID(st *unix.Stat_t) fileID {
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), full: true}
}

// unixMode converts st_mode as os.Lstat does, for the bits the walk uses.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFREG:
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}
