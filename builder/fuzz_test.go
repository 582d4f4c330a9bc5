package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzPrefix: any --prefix either errors or yields a clean relative path
// that cannot escape the image root.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"/", "", "site", "/usr/share/site/", "../x", "a/../b", "a\\..\\b", "./a/./b", "a//b", "\x00", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := cleanPrefix(p)
		if err != nil {
			return
		}
		if strings.HasPrefix(c, "/") || strings.HasSuffix(c, "/") || strings.Contains(c, "//") {
			t.Fatalf("cleanPrefix(%q) = %q: not clean", p, c)
		}
		for _, part := range strings.Split(c, "/") {
			if part == ".." || part == "." && c != "" {
				t.Fatalf("cleanPrefix(%q) = %q: escapes or is not clean", p, c)
			}
		}
	})
}

// FuzzIgnorePattern: pattern validation never panics, and a pattern it
// accepts never panics the matcher.
func FuzzIgnorePattern(f *testing.F) {
	for _, s := range []string{"*.md", "/drafts/", "**/*.psd", "!keep", "[", "a[b", "\\", "#", " ", "a/**/b", "[!a-z]"} {
		f.Add(s, "dir/file.md")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if validatePattern(pattern) != nil {
			return
		}
		dir := t.TempDir()
		ig, err := newIgnorer(dir, dir, []string{pattern})
		if err != nil {
			t.Fatalf("validated pattern %q refused: %v", pattern, err)
		}
		ig.ignored(strings.Trim(path, "/"), false)
	})
}

// FuzzTarEntry: any file name the OS accepts becomes a tar entry that reads
// back with the same name and content.
func FuzzTarEntry(f *testing.F) {
	for _, s := range []string{"index.html", "new\nline", "back\\slash", "bad\xff", "-dash", strings.Repeat("x", 200), "é", " "} {
		f.Add(s, []byte("content"))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 || name == ".git" || name == IgnoreFile {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return // the file system refused the name
		}
		res, err := Build(context.Background(), dir, WithGit(false), WithSourceDateEpoch(time.Unix(0, 0)), WithCompression(None))
		if err != nil {
			t.Fatalf("Build() with a file named %q: %v", name, err)
		}
		defer res.Close()
		rc, _ := res.Layers[0].Uncompressed()
		defer rc.Close()
		tr := tar.NewReader(rc)
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("reading the entry for %q: %v", name, err)
		}
		got, _ := io.ReadAll(tr)
		if h.Name != name || !bytes.Equal(got, body) {
			t.Fatalf("entry %q with %d bytes, want %q with %d", h.Name, len(got), name, len(body))
		}
	})
}
