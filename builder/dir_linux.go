package builder

import (
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// dirHandle is an open directory: names are lstat'ed relative to it.
type dirHandle int

func (d dirHandle) fd() int { return int(d) }

func (d dirHandle) Close() error { return unix.Close(int(d)) }

// openDir opens and lists a directory with open(2) and getdents(2) (buf is
// reused between calls). os.Open would also set the descriptor non-blocking
// and try to add it to the network poller: four more system calls per
// directory that a directory never needs.
func openDir(abs string, buf *[]byte) (dirHandle, []string, error) {
	fd, err := openRead(abs, unix.O_DIRECTORY)
	if err != nil {
		return -1, nil, err
	}
	if *buf == nil {
		*buf = make([]byte, 32<<10)
	}
	var names []string
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Getdents(fd, *buf); return err })
		if err != nil {
			unix.Close(fd)
			return -1, nil, &fs.PathError{Op: "readdirent", Path: abs, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent((*buf)[:n], -1, names) // skips "." and ".."
	}
	return dirHandle(fd), names, nil
}

// fileReader reads a file through its bare descriptor. os.Open would set
// the descriptor non-blocking, try to add it to the network poller (which
// refuses regular files) and set it blocking again, and even os.NewFile
// reads the flags once: one system call or more per file that a regular
// file never needs. Per packed file this leaves open, read, fstat and close.
type fileReader struct {
	fd   int
	path string
}

// openFile opens a file to read its bytes.
func openFile(path string) (*fileReader, error) {
	fd, err := openRead(path, 0)
	if err != nil {
		return nil, err
	}
	return &fileReader{fd: fd, path: path}, nil
}

func (f *fileReader) Read(p []byte) (n int, err error) {
	err = ignoringEINTR(func() error { n, err = unix.Read(f.fd, p); return err })
	switch {
	case err != nil:
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// ReadAt is pread(2), for the samples of layerCache.samplePath.
func (f *fileReader) ReadAt(p []byte, off int64) (n int, err error) {
	err = ignoringEINTR(func() error { n, err = unix.Pread(f.fd, p, off); return err })
	switch {
	case err != nil:
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
	case n < len(p):
		return n, io.EOF
	}
	return n, nil
}

// identity is the open file's fileID, comparable with the walk's.
func (f *fileReader) identity() (fileID, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(f.fd, &st) }); err != nil {
		return fileID{}, &fs.PathError{Op: "fstat", Path: f.path, Err: err}
	}
	return statID(&st), nil
}

func (f *fileReader) Close() error { return unix.Close(f.fd) }

// openRead is open(2) for reading with extra flags, retried on EINTR, with
// os.Open's error type.
func openRead(path string, flags int) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) { fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0); return err })
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}
