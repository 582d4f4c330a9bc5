package unpack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

type kind int

const (
	kindDir kind = iota
	kindTar
)

// stagedName is the name of the output inside the staging directory.
func stagedName(k kind) string {
	if k == kindTar {
		return "out.tar"
	}
	return "tree"
}

// stage is a staging directory beside the destination, on its file
// system, holding the staged blobs and the output until it is renamed into
// place.
type stage struct {
	display   string // the destination as given
	final     string // its absolute path
	kind      kind
	replace   bool
	dir       string
	root      *os.Root
	created   []string // parent directories newStage made, deepest last
	committed bool
}

func newStage(dst string, k kind, replace bool) (*stage, error) {
	final, err := filepath.Abs(dst)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", dst, err)
	}
	s := &stage{display: dst, final: final, kind: k, replace: replace}
	if err := s.check(); err != nil {
		return nil, err
	}
	parent := filepath.Dir(final)
	for d := parent; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		s.created = append([]string{d}, s.created...)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of %q: %w", dst, err)
	}
	if s.dir, err = os.MkdirTemp(parent, "."+filepath.Base(final)+".assetpack-tmp-"); err == nil {
		s.root, err = os.OpenRoot(s.dir)
	}
	if err != nil {
		s.close(nil)
		return nil, fmt.Errorf("creating a staging directory next to %q: %w", dst, err)
	}
	return s, nil
}

// check refuses a destination that exists and is not an empty one of the
// right kind, unless it may be replaced.
func (s *stage) check() error {
	fi, err := os.Lstat(s.final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %q: %w", s.display, err)
	}
	if s.kind == kindDir {
		if !fi.IsDir() {
			return exists("%q is not a directory; remove it or choose another destination", s.display)
		}
		des, err := os.ReadDir(s.final)
		if err != nil {
			return fmt.Errorf("checking %q: %w", s.display, err)
		}
		if len(des) > 0 && !s.replace {
			return exists("directory %q is not empty; choose a new or empty directory, or replace it (WithReplace)", s.display)
		}
		return nil
	}
	if !fi.Mode().IsRegular() {
		return exists("%q is not a regular file; remove it or choose another destination", s.display)
	}
	if fi.Size() > 0 && !s.replace {
		return exists("file %q is not empty; choose another file, or replace it (WithReplace)", s.display)
	}
	return nil
}

func exists(format string, args ...any) error {
	return marked{errors.New(fmt.Sprintf(format, args...)), ErrExists}
}

// commit moves the staged output into place.
func (s *stage) commit() error {
	// Something may have appeared at the destination meanwhile.
	if err := s.check(); err != nil {
		return err
	}
	src := filepath.Join(s.dir, stagedName(s.kind))
	err := os.Rename(src, s.final) // a file, or a directory over nothing or an empty one
	if err == nil || s.kind == kindTar {
		s.committed = err == nil
		return s.moveError(err)
	}
	if cerr := s.check(); cerr != nil {
		return cerr
	}
	// A directory that is not empty (or cannot be renamed over, as on
	// Windows): swap the two in one step where the OS can, leaving the old
	// tree in the staging directory, which is removed.
	if exchange(src, s.final) == nil {
		s.committed = true
		return nil
	}
	old := filepath.Join(s.dir, "old")
	if err := os.Rename(s.final, old); err != nil {
		return s.moveError(err)
	}
	if err := os.Rename(src, s.final); err != nil {
		os.Rename(old, s.final)
		return s.moveError(err)
	}
	s.committed = true
	return nil
}

func (s *stage) moveError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("moving the output into place at %q: %w", s.display, err)
}

// close removes the staging directory (with a replaced tree in it), and
// the parents newStage created unless the output was committed.
func (s *stage) close(o *options) {
	if s.root != nil {
		s.root.Close()
	}
	if s.dir != "" {
		if err := removeAll(s.dir); err != nil && o != nil {
			o.note(fmt.Sprintf("could not remove the staging directory %q: %v", s.dir, err))
		}
	}
	if !s.committed {
		for i := len(s.created) - 1; i >= 0; i-- {
			os.Remove(s.created[i]) // only succeeds while empty
		}
	}
}

// removeAll removes dir, making its directories writable first if it has
// to (an image may have directories without write permission).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() { // WalkDir calls this before it reads d
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
