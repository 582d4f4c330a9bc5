// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file beside it, which is then renamed over the path, so a
// reader never sees half a file and a failure leaves the old one as it was.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data to path with permissions perm (set as given, not
// through the umask). The directory must exist. On failure nothing is left
// behind but what path held before.
func Write(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
