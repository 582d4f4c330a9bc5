//go:build linux || darwin

package builder

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLstatAtMatchesLstat: the walk's fstatat must see what os.Lstat sees,
// byte for byte in the identity, or every cached layer would miss and every
// file would read as "changed".
func TestLstatAtMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "x"), []byte("#!/bin/sh"), 0o755)
	os.Mkdir(filepath.Join(dir, "d"), 0o750)
	os.Symlink("f", filepath.Join(dir, "l"))
	if err := syscall.Mkfifo(filepath.Join(dir, "p"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range []string{"f", "x", "d", "l", "p"} {
		got, err := lstatAt(dirFD(d), dir, name)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want := statOf(fi)
		if got.id != want.id || got.mode.Type() != want.mode.Type() || got.mode.Perm() != want.mode.Perm() {
			t.Errorf("%s: lstatAt = %+v %v, os.Lstat = %+v %v", name, got.id, got.mode, want.id, want.mode)
		}
		if !got.sameFile(want) {
			t.Errorf("%s: not the same file as itself", name)
		}
	}
	if _, err := lstatAt(dirFD(d), dir, "missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}
