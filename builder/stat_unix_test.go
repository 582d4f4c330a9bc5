//go:build linux || darwin

package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	d, names, err := openDir(dir, new([]byte))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	slices.Sort(names)
	if want := []string{"d", "f", "l", "p", "x"}; !slices.Equal(names, want) {
		t.Errorf("openDir listed %q, want %q", names, want)
	}
	for _, name := range []string{"f", "x", "d", "l", "p"} {
		got, err := lstatAt(d.fd(), dir, name)
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
	if _, err := lstatAt(d.fd(), dir, "missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}

// TestOpenDirLargeDirectory: a listing longer than one read of the buffer
// comes back whole.
func TestOpenDirLargeDirectory(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a-rather-long-file-name-to-fill-the-buffer-%05d.html", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, names, err := openDir(dir, new([]byte))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	seen := map[string]bool{}
	for _, name := range names {
		seen[name] = true
	}
	if len(names) != n || len(seen) != n {
		t.Errorf("openDir listed %d names (%d distinct), want %d", len(names), len(seen), n)
	}
	if _, _, err := openDir(filepath.Join(dir, "missing"), new([]byte)); !os.IsNotExist(err) {
		t.Errorf("missing directory: err = %v", err)
	}
}
