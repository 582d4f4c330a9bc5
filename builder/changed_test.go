package builder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assetpack/assetpack/internal/hooks"
)

// TestFileChangedWhileRead covers files that change between the walk and
// the read, and while they are read: each must fail, never pack a torn file.
func TestFileChangedWhileRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(p string) // between walk and read
		during func(p string) // after the bytes were copied
		detail string
	}{
		{name: "modified after listing", before: func(p string) { os.WriteFile(p, []byte("longer content"), 0o644) }, detail: "grew from 10 to 14 bytes after"},
		{name: "modified in place after listing", before: func(p string) {
			os.WriteFile(p, []byte("abcdefghij"), 0o644)
			os.Chtimes(p, time.Unix(1e9, 0), time.Unix(1e9, 0))
		}, detail: "replaced or modified after"},
		{name: "replaced by a directory", before: func(p string) {
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, detail: "replaced or modified after"},
		{name: "replaced after listing", before: func(p string) {
			os.Remove(p)
			os.WriteFile(p, []byte("0123456789"), 0o644)
		}, detail: "replaced or modified after"},
		{name: "removed after listing", before: func(p string) { os.Remove(p) }, detail: "removed"},
		{name: "grew while read", during: func(p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("more")
			f.Close()
		}, detail: "grew from 10 to 14 bytes"},
		{name: "truncated while read", during: func(p string) { os.Truncate(p, 3) }, detail: "shrank from 10 to 3 bytes"},
		{name: "truncated before read", before: func(p string) { os.Truncate(p, 4) }, detail: "shrank from 10 to 4 bytes"},
		{name: "rewritten while read", during: func(p string) {
			os.WriteFile(p, []byte("abcdefghij"), 0o644)
			os.Chtimes(p, time.Unix(1e9, 0), time.Unix(1e9, 0))
		}, detail: "replaced or modified after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.txt")
			os.WriteFile(p, []byte("0123456789"), 0o644)
			o := defaultOptions()
			ig, _ := newIgnorer(dir, dir, nil)
			w := &walker{root: dir, display: dir, o: &o, ig: ig}
			w.prepareSkips(nil)
			info, _ := os.Stat(dir)
			if err := w.walk(info); err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(p)
			}
			if tc.during != nil {
				testHookAfterCopy = tc.during
				defer func() { testHookAfterCopy = nil }()
			}
			work := t.TempDir()
			_, err := writeLayer(context.Background(), work, &layerInput{span: w.entries}, Gzip, unixEpoch(), nil, nil)
			if err == nil {
				t.Fatal("writeLayer() succeeded on a changing file")
			}
			if !errors.Is(err, ErrFileChanged) {
				t.Errorf("err = %v, want ErrFileChanged", err)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("err = %q, want it to name %q and say %q", err, p, tc.detail)
			}
			if left, _ := os.ReadDir(work); len(left) != 0 {
				t.Errorf("failed layer left %d files in the work dir", len(left))
			}
		})
	}
}

// TestDirectoryRemovedDuringWalk: a directory that disappears between being
// listed and being read fails the build, naming it.
func TestDirectoryRemovedDuringWalk(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644)
	testHookWalkDir = func(abs string) {
		if filepath.Base(abs) == "b" {
			os.RemoveAll(abs)
		}
	}
	defer func() { testHookWalkDir = nil }()
	_, err := Build(context.Background(), dir, WithGit(false))
	if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), filepath.Join(dir, "a", "b")) || !strings.Contains(err.Error(), "removed") {
		t.Errorf("Build() = %v, want ErrFileChanged naming a/b", err)
	}
}

// TestProcFileNotPackedEmpty: a /proc file says it has size 0 whatever it
// holds; reached through a followed symlink it must fail the build, not be
// packed as an empty file.
func TestProcFileNotPackedEmpty(t *testing.T) {
	if _, err := os.Stat("/proc/version"); err != nil {
		t.Skip("no /proc/version here")
	}
	dir := t.TempDir()
	if err := os.Symlink("/proc/version", filepath.Join(dir, "version")); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), dir, WithSymlinks(SymlinksFollow), WithGit(false), WithHooks(hooks.Build{WorkDir: t.TempDir()}))
	if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), "size 0") {
		t.Fatalf("Build() = %v, want ErrFileChanged about a size-0 file", err)
	}
}
