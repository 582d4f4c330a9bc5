package builder_test

import (
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/assetpack/assetpack/builder"
)

// TestDeterminism builds differently-prepared copies of one tree and
// requires one digest: creation order, mtimes, umask, owner, hard links and
// the local time zone must not matter.
func TestDeterminism(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, siteTree)
	want := build(t, base).Digest

	variants := map[string]func(t *testing.T, dir string){
		"reverse creation order": func(t *testing.T, dir string) {
			rev := append([]treeFile(nil), siteTree...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			writeTree(t, dir, rev)
		},
		"shuffled order and random mtimes": func(t *testing.T, dir string) {
			r := rand.New(rand.NewSource(42))
			sh := append([]treeFile(nil), siteTree...)
			r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
			writeTree(t, dir, sh)
			filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode()&os.ModeSymlink == 0 {
					ts := time.Unix(r.Int63n(4e9), r.Int63n(1e9))
					os.Chtimes(p, ts, ts)
				}
				return nil
			})
		},
		"umask 077": func(t *testing.T, dir string) {
			old := syscall.Umask(0o077)
			defer syscall.Umask(old)
			writeTree(t, dir, siteTree)
		},
		"odd permissions": func(t *testing.T, dir string) {
			writeTree(t, dir, siteTree)
			// group/other exec bits only still mean "executable"; other bits vanish.
			os.Chmod(filepath.Join(dir, "bin/run.sh"), 0o701)
			os.Chmod(filepath.Join(dir, "index.html"), 0o600)
			os.Chmod(filepath.Join(dir, "css"), 0o700)
			os.Chmod(filepath.Join(dir, "js/app.js"), 0o664)
		},
		"hard links": func(t *testing.T, dir string) {
			writeTree(t, dir, siteTree)
			b := filepath.Join(dir, "copy/b.txt")
			os.Remove(b)
			if err := os.Link(filepath.Join(dir, "copy/a.txt"), b); err != nil {
				t.Fatal(err)
			}
		},
		"other owner": func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("changing owners needs root")
			}
			writeTree(t, dir, siteTree)
			filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
				if err == nil {
					os.Lchown(p, 65534, 65534)
				}
				return nil
			})
		},
		"other time zone": func(t *testing.T, dir string) {
			old := time.Local
			time.Local = time.FixedZone("UTC+13:45", 13*3600+45*60)
			t.Cleanup(func() { time.Local = old })
			writeTree(t, dir, siteTree)
		},
	}
	for name, prepare := range variants {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy-"+name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			prepare(t, dir)
			if got := build(t, dir).Digest; got != want {
				t.Errorf("digest = %s, want %s", got, want)
			}
		})
	}
}

// TestDeterminismAcrossOptions checks which options change the digest: only
// the ones that change what is stored.
func TestDeterminismAcrossOptions(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	a := build(t, dir)
	b := build(t, dir)
	if a.Digest != b.Digest {
		t.Fatalf("two builds of one tree: %s != %s", a.Digest, b.Digest)
	}
	diffA, _ := a.Layers[0].DiffID()
	seen := map[string]builder.Compression{a.Digest.String(): builder.Gzip}
	for _, c := range []builder.Compression{builder.Zstd, builder.ZstdBetter, builder.ZstdBest, builder.None} {
		r := build(t, dir, builder.WithCompression(c))
		if other, ok := seen[r.Digest.String()]; ok {
			t.Errorf("compression %s: the digest of %s", c, other)
		}
		seen[r.Digest.String()] = c
		if again := build(t, dir, builder.WithCompression(c)); again.Digest != r.Digest {
			t.Errorf("compression %s: two builds gave %s and %s", c, r.Digest, again.Digest)
		}
		// The tar stream is the same whatever the compression.
		if d, _ := r.Layers[0].DiffID(); d != diffA {
			t.Errorf("compression %s: diffID = %s, want %s", c, d, diffA)
		}
	}
	if r := build(t, dir, builder.WithSourceDateEpoch(time.Unix(1, 0))); r.Digest == a.Digest {
		t.Error("another source date epoch gave the same digest")
	}
	// Changing one byte of one file changes the digest.
	os.WriteFile(filepath.Join(dir, "css/site.css"), []byte("body { margin: 1 }\n"), 0o644)
	if r := build(t, dir); r.Digest == a.Digest {
		t.Error("changed content gave the same digest")
	}
}
