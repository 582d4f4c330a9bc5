package builder_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
)

// cacheRecords lists the records keyed by file identity (not by content,
// not samples).
func cacheRecords(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		switch {
		case err != nil:
		case info.IsDir() && (p == filepath.Join(dir, "content") || p == filepath.Join(dir, "sample")):
			return filepath.SkipDir
		case info.Mode().IsRegular() && p != filepath.Join(dir, "trim.txt"):
			out = append(out, p)
		}
		return nil
	})
	return out
}

// contentRecords lists the records keyed by content.
func contentRecords(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(filepath.Join(dir, "content"), func(p string, info os.FileInfo, err error) error {
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
		again := build(t, dir, builder.WithCache(cache), deferred)
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
	changed := build(t, dir, builder.WithCache(cache), deferred)
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
	res := build(t, dir, builder.WithCache(cache), deferred)
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
	res := build(t, dir, builder.WithCache(cache), builder.WithHooks(hooks.Build{ReuseDir: prev, WorkDir: t.TempDir()}))
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

// TestCacheByContent: a fresh checkout of unchanged files (new inodes and
// change times) misses every identity record, but when only pushing, its
// compressed layers are found by content and not compressed again.
func TestCacheByContent(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	a, b := t.TempDir(), t.TempDir()
	splitTree(t, a, nil)
	small := splitTree(t, b, nil) // same bytes, other inodes
	cache := t.TempDir()
	first := build(t, a, builder.WithCache(cache))
	compressed := 0
	for _, l := range first.Layers {
		if l.Compression() != builder.None {
			compressed++
		}
	}
	if compressed == 0 || compressed == len(first.Layers) {
		t.Fatalf("%d of %d layers compressed: want both kinds", compressed, len(first.Layers))
	}
	if n := len(contentRecords(t, cache)); n != compressed {
		t.Fatalf("%d content records for %d compressed layers", n, compressed)
	}

	fresh := build(t, b, builder.WithCache(cache), deferred)
	if fresh.Digest != first.Digest {
		t.Fatalf("fresh checkout: %s, want %s", fresh.Digest, first.Digest)
	}
	for i, l := range fresh.Layers {
		if want := l.Compression() != builder.None; l.Cached() != want {
			t.Errorf("layer %d (%s): cached %v, want %v", i, l.Compression(), l.Cached(), want)
		}
		if l.Cached() {
			if got := blobDigest(t, l); got != digestOf(l) {
				t.Errorf("layer %d from a content record encodes to %s, want %s", i, got, digestOf(l))
			}
		}
	}
	// The hit also recorded the new identities.
	again := build(t, b, builder.WithCache(cache), deferred)
	for i, l := range again.Layers {
		if l.Compression() != builder.None && !l.Cached() {
			t.Errorf("layer %d missed the identity record written by the content hit", i)
		}
	}

	// Changed content misses in its layer only, and gives the uncached digest.
	c := t.TempDir()
	splitTree(t, c, nil)
	os.WriteFile(filepath.Join(c, filepath.FromSlash(small[10])), []byte("new content"), 0o644)
	changed := build(t, c, builder.WithCache(cache), deferred)
	if want := build(t, c); changed.Digest != want.Digest {
		t.Fatalf("changed checkout: %s, uncached %s", changed.Digest, want.Digest)
	}
	misses := 0
	for _, l := range changed.Layers {
		if l.Compression() != builder.None && !l.Cached() {
			misses++
		}
	}
	if misses != 1 {
		t.Errorf("%d compressed layers missed after one file changed, want 1", misses)
	}

	// A content record that lies fails when its blob is made, and is dropped.
	recs := contentRecords(t, cache)
	for _, p := range recs {
		raw, _ := os.ReadFile(p)
		i := strings.Index(string(raw), `"digest":"sha256:`) + len(`"digest":"sha256:`)
		lie := "0000" // same length, valid hex, another digest
		if string(raw[i:i+4]) == lie {
			lie = "ffff"
		}
		copy(raw[i:], lie)
		os.WriteFile(p, raw, 0o644)
	}
	d := t.TempDir()
	splitTree(t, d, nil)
	lied := build(t, d, builder.WithCache(cache), deferred)
	var l *builder.Layer
	for _, x := range lied.Layers {
		if x.Cached() {
			l = x
		}
	}
	if l == nil {
		t.Fatal("no layer used the altered content records")
	}
	rc, _ := l.Compressed()
	_, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, builder.ErrFileChanged) {
		t.Fatalf("reading a layer from a lying content record: %v, want ErrFileChanged", err)
	}
	if n := len(contentRecords(t, cache)); n != len(recs)-1 {
		t.Errorf("%d content records left of %d, want the lying one dropped", n, len(recs))
	}
}

// TestCacheByContentLookups: layers are hashed to be looked up by content
// only when only pushing (a build that writes its layers must compress them
// anyway) and when some layer was recorded with the same timestamp (every
// entry's timestamp is in the tar: a new git commit's time cannot hit).
func TestCacheByContentLookups(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	lookups, restore := builder.CountContentLookups()
	defer restore()
	cache := t.TempDir()
	fresh := func() string { // a fresh checkout: same bytes, new identities
		d := t.TempDir()
		writeTree(t, d, siteTree)
		return d
	}
	build(t, fresh(), builder.WithCache(cache))
	for _, tc := range []struct {
		name    string
		opts    []builder.Option
		lookups int64
		cached  bool
	}{
		{"stored", nil, 0, false},
		{"pushing", []builder.Option{deferred}, 1, true},
		{"pushing, another timestamp", []builder.Option{deferred, builder.WithSourceDateEpoch(time.Unix(1800000000, 0))}, 0, false},
		{"pushing, another compression", []builder.Option{deferred, builder.WithCompression(builder.Zstd)}, 0, false},
	} {
		lookups.Store(0)
		res := build(t, fresh(), append([]builder.Option{builder.WithCache(cache)}, tc.opts...)...)
		if n := lookups.Load(); n != tc.lookups {
			t.Errorf("%s: %d lookups by content, want %d", tc.name, n, tc.lookups)
		}
		if l := res.Layers[0]; l.Cached() != tc.cached || (!tc.cached && !l.Deferred() && l.Path() == "") {
			t.Errorf("%s: cached %v, path %q; want cached %v", tc.name, l.Cached(), l.Path(), tc.cached)
		}
	}
	// The layers a build records do not make its other layers look.
	lookups.Store(0)
	big := t.TempDir()
	splitTree(t, big, nil)
	res := build(t, big, builder.WithCache(cache), deferred, builder.WithSourceDateEpoch(time.Unix(1900000000, 0)))
	if n := lookups.Load(); n != 0 || len(res.Layers) < 3 {
		t.Errorf("%d layers with a new timestamp: %d lookups by content, want 0", len(res.Layers), n)
	}
}

// TestCacheTrim: a build removes the records not used for TrimAge, at most
// once a day, and a record that is used is kept.
func TestCacheTrim(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache := t.TempDir()
	build(t, dir, builder.WithCache(cache))
	used := cacheRecords(t, cache)
	if len(used) != 1 || len(contentRecords(t, cache)) != 1 {
		t.Fatalf("%d identity and %d content records, want 1 each", len(used), len(contentRecords(t, cache)))
	}
	old := time.Now().Add(-builder.TrimAge - time.Hour)
	stale := filepath.Join(cache, "ab", "abandoned")
	os.MkdirAll(filepath.Dir(stale), 0o700)
	os.WriteFile(stale, []byte("{}"), 0o600)
	for _, p := range append([]string{stale}, append(used, contentRecords(t, cache)...)...) {
		os.Chtimes(p, old, old)
	}
	// Trimmed today already: nothing goes.
	build(t, dir, builder.WithCache(cache), deferred)
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("a record went before a day since the last trim: %v", err)
	}
	// A day later: the unused record and its directory go; the identity
	// record this build used was marked and stays; the content record,
	// unused by a build that hit by identity, goes.
	os.WriteFile(filepath.Join(cache, "trim.txt"), []byte(strconv.FormatInt(time.Now().Add(-25*time.Hour).Unix(), 10)), 0o600)
	res := build(t, dir, builder.WithCache(cache), deferred)
	if !res.Layers[0].Cached() {
		t.Fatal("the build missed its identity record")
	}
	if _, err := os.Stat(filepath.Dir(stale)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unused record's directory after trim: %v, want it gone", err)
	}
	if got := cacheRecords(t, cache); len(got) != 1 || got[0] != used[0] {
		t.Errorf("records after trim: %v, want %s", got, used[0])
	}
	if n := len(contentRecords(t, cache)); n != 0 {
		t.Errorf("%d unused content records after trim, want 0", n)
	}
}

// TestCachePredicted: an uncompressed layer that misses by identity (a
// fresh checkout) gets the digest its sample record predicts before it is
// hashed; a change outside the sample gives a wrong guess, which is then
// replaced; a change inside it gives none. Builds that start no early
// upload read no samples.
func TestCachePredicted(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	body := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range body {
		body[i] = byte(r.Uint32()) // incompressible: auto stores it uncompressed
	}
	tree := func(edit func([]byte)) string {
		dir := t.TempDir()
		b := slices.Clone(body)
		if edit != nil {
			edit(b)
		}
		for _, f := range []struct {
			name string
			b    []byte
		}{{"weights.bin", b}, {"config.json", []byte(`{"layers": 2}`)}} {
			if err := os.WriteFile(filepath.Join(dir, f.name), f.b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	cache := t.TempDir()
	// push builds a tree as build --push does, and returns what Predicted
	// said when the layer started and the digest it then had.
	push := func(dir string) (predicted, got v1.Hash, ok bool) {
		var l *builder.Layer
		res := build(t, dir, builder.WithCache(cache), builder.WithHooks(hooks.Build{Deferred: true,
			LayerStart: func(x v1.Layer, _ func() io.ReadCloser) {
				l = x.(*builder.Layer)
				predicted, ok = l.Predicted()
			}}))
		if l == nil || len(res.Layers) != 1 || res.Layers[0] != l {
			t.Fatalf("%s: want one layer started early, got %d layers (started: %v)", dir, len(res.Layers), l != nil)
		}
		return predicted, digestOf(l), ok
	}

	// -o DIR and inspect start no early upload: no sample is read or kept.
	build(t, tree(nil), builder.WithCache(cache))
	build(t, tree(nil), builder.WithCache(cache), deferred)
	if _, err := os.Stat(filepath.Join(cache, "sample")); !os.IsNotExist(err) {
		t.Fatalf("a build without early uploads kept samples: %v", err)
	}

	if _, _, ok := push(tree(nil)); ok {
		t.Fatal("first push: a prediction from an empty cache")
	}
	p, d, ok := push(tree(nil)) // a fresh copy: new inodes
	if !ok || p != d {
		t.Fatalf("fresh copy: predicted %v (%v), digest %s", p, ok, d)
	}

	// A byte between two samples (4 KiB reads 16 KiB apart; the first is in
	// config.json, the second 16,631 bytes into weights.bin): the
	// guess is the old digest, the build still hashes the new bytes, and
	// the record now holds them.
	between := func(b []byte) { b[10000] ^= 1 }
	p, d, ok = push(tree(between))
	if !ok || p == d {
		t.Fatalf("changed between samples: predicted %v (%v), digest %s: want the old digest", p, ok, d)
	}
	if want := build(t, tree(between)); want.Layers[0].Compression() != builder.None || digestOf(want.Layers[0]) != d {
		t.Fatalf("changed between samples: digest %s, an uncached build gives %s", d, digestOf(want.Layers[0]))
	}
	if p2, d2, ok := push(tree(between)); !ok || p2 != d2 || d2 != d {
		t.Fatalf("after a wrong guess: predicted %v (%v), digest %s, want %s", p2, ok, d2, d)
	}

	// A byte in a sample (the last read ends at the layer's last byte): no
	// guess at all.
	if p, _, ok := push(tree(func(b []byte) { b[len(b)-1] ^= 1 })); ok {
		t.Fatalf("changed in a sample: predicted %s", p)
	}
}
