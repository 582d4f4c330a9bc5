package builder_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/builder"
)

func cacheRecords(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCache(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	small := splitTree(t, dir, nil)
	cache := t.TempDir()
	first := build(t, dir, builder.WithCache(cache))
	if n := len(cacheRecords(t, cache)); n != len(first.Layers) {
		t.Fatalf("%d cache records for %d layers", n, len(first.Layers))
	}
	{
		again := build(t, dir, builder.WithCache(cache), builder.WithDeferredLayers(true))
		if again.Digest != first.Digest {
			t.Fatalf("cached build: %s, want %s", again.Digest, first.Digest)
		}
		for i, l := range again.Layers {
			if !l.Cached() || !l.Deferred() {
				t.Fatalf("layer %d: cached %v, deferred %v; want both (files unchanged)", i, l.Cached(), l.Deferred())
			}
		}
		// A cached layer produces the same bytes when something reads it.
		if got := blobDigest(t, again.Layers[0]); got != digestOf(again.Layers[0]) {
			t.Fatalf("cached layer re-encoded to %s, want %s", got, digestOf(again.Layers[0]))
		}
	}
	// A changed file misses the cache in its layer only, and the digest is
	// the one a build without cache gives.
	os.WriteFile(filepath.Join(dir, filepath.FromSlash(small[10])), []byte("new content"), 0o644)
	changed := build(t, dir, builder.WithCache(cache), builder.WithDeferredLayers(true))
	fresh := build(t, dir)
	if changed.Digest != fresh.Digest {
		t.Fatalf("cached build after a change: %s, uncached: %s", changed.Digest, fresh.Digest)
	}
	misses := 0
	for _, l := range changed.Layers {
		if !l.Cached() {
			misses++
		}
	}
	if misses != 1 {
		t.Errorf("%d layers missed the cache after one file changed, want 1", misses)
	}
	// Other options are other keys.
	if res := build(t, dir, builder.WithCache(cache), builder.WithCompression(builder.Zstd)); res.Layers[0].Cached() {
		t.Error("a zstd build used a record of the auto build")
	}
}

// TestCacheNotWritable: a cache directory that cannot be created costs no
// build, but the result says so, naming the directory.
func TestCacheNotWritable(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hi</h1>"), 0o644)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	cache := filepath.Join(blocker, "cache") // below a regular file: even root cannot create it
	res := build(t, dir, builder.WithCache(cache))
	if res.CacheError == nil || !strings.Contains(res.CacheError.Error(), cache) {
		t.Fatalf("CacheError = %v, want an error naming %s", res.CacheError, cache)
	}
	if want := build(t, dir); res.Digest != want.Digest {
		t.Errorf("digest with an unwritable cache %s, without a cache %s", res.Digest, want.Digest)
	}
	if ok := build(t, dir, builder.WithCache(t.TempDir())); ok.CacheError != nil {
		t.Errorf("CacheError = %v with a writable cache", ok.CacheError)
	}
}

// TestCacheRecordThatLies: a record whose digest no longer matches the
// files fails when the blob is produced, and is dropped.
func TestCacheRecordThatLies(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache := t.TempDir()
	first := build(t, dir, builder.WithCache(cache))
	recs := cacheRecords(t, cache)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	raw, _ := os.ReadFile(recs[0])
	lie := strings.Replace(string(raw), digestOf(first.Layers[0]).Hex[:8], "00000000", 1)
	os.WriteFile(recs[0], []byte(lie), 0o644)
	res := build(t, dir, builder.WithCache(cache), builder.WithDeferredLayers(true))
	rc, _ := res.Layers[0].Compressed()
	_, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, builder.ErrFileChanged) {
		t.Fatalf("reading a layer from a lying record: %v, want ErrFileChanged", err)
	}
	if len(cacheRecords(t, cache)) != 0 {
		t.Error("the lying record was kept")
	}
	if again := build(t, dir, builder.WithCache(cache)); again.Digest != first.Digest {
		t.Errorf("after dropping the record: %s, want %s", again.Digest, first.Digest)
	}
}

// TestCacheRacyWindow: files changed in the last moments are not trusted.
func TestCacheRacyWindow(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache := t.TempDir()
	build(t, dir, builder.WithCache(cache))
	if n := len(cacheRecords(t, cache)); n != 0 {
		t.Errorf("%d records for files written just now", n)
	}
}

// TestCacheReuseDir: a stored (not deferred) layer that hits the cache is
// hard-linked from the previous output's blobs.
func TestCacheReuseDir(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache, prev := t.TempDir(), t.TempDir()
	first := build(t, dir, builder.WithCache(cache))
	d := digestOf(first.Layers[0])
	src, _ := first.Layers[0].Compressed()
	b, _ := io.ReadAll(src)
	src.Close()
	os.WriteFile(filepath.Join(prev, d.Hex), b, 0o644)
	res := build(t, dir, builder.WithCache(cache), builder.WithReuseDir(prev), builder.WithWorkDir(t.TempDir()))
	l := res.Layers[0]
	if l.Deferred() || !l.Cached() {
		t.Fatalf("deferred %v cached %v; want a stored, cached layer", l.Deferred(), l.Cached())
	}
	a, _ := os.Stat(l.Path())
	p, _ := os.Stat(filepath.Join(prev, d.Hex))
	if !os.SameFile(a, p) {
		t.Error("the blob was not hard-linked from the reuse directory")
	}
}
