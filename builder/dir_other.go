//go:build !linux

package builder

import "os"

// dirHandle is an open directory: names are lstat'ed relative to it.
type dirHandle struct{ *os.File }

func (d dirHandle) fd() int { return int(d.Fd()) }

// openDir opens and lists a directory.
func openDir(abs string, _ *[]byte) (dirHandle, []string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return dirHandle{}, nil, err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return dirHandle{}, nil, err
	}
	return dirHandle{f}, names, nil
}

// fileReader reads a file's bytes.
type fileReader struct{ *os.File }

// openFile opens a file to read its bytes.
func openFile(path string) (fileReader, error) {
	f, err := os.Open(path)
	return fileReader{f}, err
}

// identity is the open file's fileID, comparable with the walk's.
func (f fileReader) identity() (fileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, err
	}
	return fileIdentity(fi), nil
}
