//go:build !linux && !darwin

package builder

import (
	"os"
	"path/filepath"
)

// lstatAt is os.Lstat of abs/name where there is no fstatat.
func lstatAt(_ int, abs, name string) (statInfo, error) {
	fi, err := os.Lstat(filepath.Join(abs, name))
	if err != nil {
		return statInfo{}, err
	}
	return statOf(fi), nil
}
