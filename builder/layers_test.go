package builder_test

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
)

// splitTree writes a tree that LayersAuto splits: two large incompressible
// files (their own layers) and ~10 MiB of small text files in nested directories
// (several groups). It returns the relative paths of the small files.
func splitTree(t *testing.T, dir string, order func([]int)) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var small []string
	bodies := map[string][]byte{}
	for i := 0; i < 700; i++ {
		p := fmt.Sprintf("s%d/t%d/page-%03d.html", i%3, (i/3)%5, i)
		b := make([]byte, 12<<10+r.IntN(8<<10))
		for j := range b {
			b[j] = "abcdefgh ijkl\n"[r.IntN(14)]
		}
		small = append(small, p)
		bodies[p] = b
	}
	idx := make([]int, len(small))
	for i := range idx {
		idx[i] = i
	}
	if order != nil {
		order(idx)
	}
	for _, i := range idx {
		p := filepath.Join(dir, filepath.FromSlash(small[i]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bodies[small[i]], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, size := range map[string]int64{"weights/a.bin": 40 << 20, "weights/b.bin": 33 << 20} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var seed [32]byte
		copy(seed[:], name)
		b := make([]byte, size)
		rand.NewChaCha8(seed).Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return small
}

// layerFiles reads one layer: entry name → sha256 of the body ("dir" for
// directories), checking that every entry's parent directory comes first.
func layerFiles(t *testing.T, l *builder.Layer) (names []string, sums map[string]string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sums = map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, sums
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if d := path.Dir(name); d != "." {
			if sums[d] != "dir" {
				t.Errorf("layer %s: %s comes without its directory %s before it", digestOf(l), name, d)
			}
		}
		if h.Typeflag == tar.TypeDir {
			sums[name] = "dir"
		} else {
			hs := sha256.New()
			io.Copy(hs, tr)
			sums[name] = fmt.Sprintf("%x", hs.Sum(nil))
		}
		names = append(names, name)
	}
}

func digestOf(l *builder.Layer) v1.Hash { d, _ := l.Digest(); return d }

func digests(res *builder.Result) []string {
	var out []string
	for _, l := range res.Layers {
		out = append(out, digestOf(l).String())
	}
	return out
}

func TestLayersAuto(t *testing.T) {
	dir := t.TempDir()
	small := splitTree(t, dir, nil)
	auto := build(t, dir)
	single := build(t, dir, builder.WithLayers(builder.LayersSingle))
	if len(single.Layers) != 1 {
		t.Fatalf("single: %d layers", len(single.Layers))
	}
	if n := len(auto.Layers); n < 4 || n > 12 {
		t.Fatalf("auto: %d layers, want two large-file layers and a few groups of ~1 MiB", n)
	}
	// Every file is in exactly one layer, with the same bytes as in the
	// single layer; directories may repeat.
	_, want := layerFiles(t, single.Layers[0])
	got := map[string]string{}
	for i, l := range auto.Layers {
		names, sums := layerFiles(t, l)
		if !sort.StringsAreSorted(names) {
			t.Errorf("layer %d is not sorted", i)
		}
		files := 0
		for name, s := range sums {
			if s == "dir" {
				continue
			}
			files++
			if _, dup := got[name]; dup {
				t.Errorf("%s is in two layers", name)
			}
			got[name] = s
		}
		if strings.HasPrefix(names[len(names)-1], "weights/") && files != 1 {
			t.Errorf("layer %d holds a large file and %d other files", i, files-1)
		}
		if c := l.Compression(); strings.HasPrefix(names[len(names)-1], "weights/") != (c == builder.None) {
			t.Errorf("layer %d (%s): compression %s; auto stores the random large files uncompressed and gzips text", i, names[len(names)-1], c)
		}
	}
	for name, s := range want {
		if s != "dir" && got[name] != s {
			t.Errorf("%s: auto layers have %q, single layer %q", name, got[name], s)
		}
	}
	if len(got) != len(small)+2 {
		t.Errorf("auto layers hold %d files, want %d", len(got), len(small)+2)
	}
}

// TestLayersAutoLocality: one changed file changes one layer; an added file
// changes at most the two layers around it.
func TestLayersAutoLocality(t *testing.T) {
	dir := t.TempDir()
	small := splitTree(t, dir, nil)
	before := digests(build(t, dir))

	changed := func(after []string) int {
		n := 0
		seen := map[string]bool{}
		for _, d := range before {
			seen[d] = true
		}
		for _, d := range after {
			if !seen[d] {
				n++
			}
		}
		return n
	}
	// Same size, new bytes.
	p := filepath.Join(dir, filepath.FromSlash(small[350]))
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o644)
	if n := changed(digests(build(t, dir))); n != 1 {
		t.Errorf("one small file changed: %d new layers, want 1", n)
	}
	// A new size: the boundaries depend on names, not sizes.
	os.WriteFile(p, b[:len(b)/3], 0o644)
	if n := changed(digests(build(t, dir))); n != 1 {
		t.Errorf("one small file shrank: %d new layers, want 1", n)
	}
	b[0] ^= 1
	os.WriteFile(p, b, 0o644)
	// A large file, then restored.
	w := filepath.Join(dir, "weights", "b.bin")
	orig := make([]byte, 7)
	r, _ := os.Open(w)
	r.ReadAt(orig, 1<<20)
	r.Close()
	f, _ := os.OpenFile(w, os.O_WRONLY, 0)
	f.WriteAt([]byte("changed"), 1<<20)
	f.Close()
	if n := changed(digests(build(t, dir))); n != 1 {
		t.Errorf("one large file changed: %d new layers, want 1", n)
	}
	f, _ = os.OpenFile(w, os.O_WRONLY, 0)
	f.WriteAt(orig, 1<<20)
	f.Close()
	if n := changed(digests(build(t, dir))); n != 0 {
		t.Fatalf("after restoring every file: %d new layers, want 0", n)
	}
	// A new page in the middle of the tree.
	os.WriteFile(filepath.Join(dir, "s1", "t2", "page-new.html"), []byte(strings.Repeat("new page ", 2000)), 0o644)
	after := digests(build(t, dir))
	if n := changed(after); n < 1 || n > 2 {
		t.Errorf("one file added: %d new layers, want 1 or 2", n)
	}
}

// TestParallelDeterminism: neither the job count nor GOMAXPROCS nor the
// creation order, mtimes or umask change a multi-layer image's digest.
func TestParallelDeterminism(t *testing.T) {
	dir := t.TempDir()
	splitTree(t, dir, nil)
	want := build(t, dir).Digest
	for _, jobs := range []int{1, 3, 16} {
		if got := build(t, dir, builder.WithJobs(jobs)).Digest; got != want {
			t.Errorf("WithJobs(%d): %s, want %s", jobs, got, want)
		}
	}
	for _, procs := range []int{1, 2} {
		old := runtime.GOMAXPROCS(procs)
		got := build(t, dir).Digest
		runtime.GOMAXPROCS(old)
		if got != want {
			t.Errorf("GOMAXPROCS=%d: %s, want %s", procs, got, want)
		}
	}
	other := t.TempDir()
	old := syscall.Umask(0o077)
	splitTree(t, other, func(idx []int) {
		r := rand.New(rand.NewPCG(7, 8))
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	})
	syscall.Umask(old)
	filepath.Walk(other, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			ts := time.Unix(int64(len(p))*1e6, 0)
			os.Chtimes(p, ts, ts)
		}
		return nil
	})
	if got := build(t, other).Digest; got != want {
		t.Errorf("shuffled creation order, umask 077, other mtimes: %s, want %s", got, want)
	}
}

func TestDeferredLayers(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	work := t.TempDir()
	stored := build(t, dir, builder.WithCompression(builder.None))
	res := build(t, dir, builder.WithCompression(builder.None), builder.WithHooks(hooks.Build{Deferred: true, WorkDir: work}))
	if res.Digest != stored.Digest {
		t.Fatalf("deferred: %s, stored: %s", res.Digest, stored.Digest)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 || !res.Layers[0].Deferred() {
		t.Fatalf("a deferred uncompressed layer was written to the work dir (%d files)", len(ents))
	}
	if got := blobDigest(t, res.Layers[0]); got != digestOf(res.Layers[0]) {
		t.Fatalf("deferred blob hashes to %s, want %s", got, digestOf(res.Layers[0]))
	}
	// Compressed layers are always stored.
	gz := build(t, dir, builder.WithCompression(builder.Gzip), deferred)
	if gz.Layers[0].Deferred() {
		t.Error("a gzip layer was deferred")
	}
	// A file changed after the build: producing the blob fails.
	os.WriteFile(filepath.Join(dir, "css", "site.css"), []byte("body { margin: 1 }\n"), 0o644)
	rc, _ := res.Layers[0].Compressed()
	_, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, builder.ErrFileChanged) {
		t.Fatalf("reading a deferred layer after a change: %v, want ErrFileChanged", err)
	}
}

func blobDigest(t *testing.T, l *builder.Layer) v1.Hash {
	t.Helper()
	return readAll(t, l.Compressed)
}

// TestCompressedForRegistry: the registry's read of a deferred layer gives
// the same bytes without hashing them again, and still notices a file whose
// bytes changed with its size and modification time put back (only the
// change time moves), which the digest check of Compressed would catch.
func TestCompressedForRegistry(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache := t.TempDir()
	res := build(t, dir, builder.WithCompression(builder.None), deferred, builder.WithCache(cache))
	l := res.Layers[0]
	if got := readAll(t, l.CompressedForRegistry); got != digestOf(l) {
		t.Fatalf("CompressedForRegistry hashes to %s, want %s", got, digestOf(l))
	}

	// The same bytes at the same size and mtime: only ctime tells.
	p := filepath.Join(dir, "css", "site.css")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // let the change time move on coarse clocks
	if err := os.WriteFile(p, []byte("body { margin: 9 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (io.ReadCloser, error){
		"CompressedForRegistry": l.CompressedForRegistry, "Compressed": l.Compressed} {
		rc, err := open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if !errors.Is(err, builder.ErrFileChanged) {
			t.Errorf("%s after a same-size, same-mtime edit: %v, want ErrFileChanged", name, err)
		}
	}

	// A layer from the cache (its digest was not computed from these files
	// by this build) is verified as by Compressed.
	if err := os.WriteFile(p, []byte("body { margin: 0 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builder.SetRacyWindow(0)
	build(t, dir, builder.WithCompression(builder.None), builder.WithCache(cache))
	hit := build(t, dir, builder.WithCompression(builder.None), deferred, builder.WithCache(cache)).Layers[0]
	if !hit.Cached() || !hit.Deferred() {
		t.Fatalf("cached %v deferred %v, want both", hit.Cached(), hit.Deferred())
	}
	recs := cacheRecords(t, cache)
	for _, r := range recs {
		raw, _ := os.ReadFile(r)
		os.WriteFile(r, []byte(strings.Replace(string(raw), digestOf(hit).Hex[:8], "00000000", 1)), 0o644)
	}
	lying := build(t, dir, builder.WithCompression(builder.None), deferred, builder.WithCache(cache)).Layers[0]
	rc, _ := lying.CompressedForRegistry()
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, builder.ErrFileChanged) {
		t.Fatalf("CompressedForRegistry of a lying cache record: %v, want ErrFileChanged", err)
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) v1.Hash {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h, _, err := v1.SHA256(rc)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLayerStart: a deferred uncompressed layer is handed over before it is
// hashed, with a reader of the very bytes its digest covers. A compressed
// layer is handed over too, before it is encoded (TestLayerStartCompressed
// reads it).
func TestLayerStart(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	var mu sync.Mutex
	started := map[v1.Layer]func() io.ReadCloser{}
	var doneBeforeStart bool
	res := build(t, dir, builder.WithCompression(builder.None), builder.WithHooks(hooks.Build{Deferred: true,
		LayerStart: func(l v1.Layer, open func() io.ReadCloser) {
			mu.Lock()
			started[l] = open
			mu.Unlock()
		},
		LayerDone: func(l v1.Layer) {
			mu.Lock()
			if started[l] == nil {
				doneBeforeStart = true
			}
			mu.Unlock()
		}}))
	if doneBeforeStart || len(started) != len(res.Layers) {
		t.Fatalf("%d layers started of %d (done before start: %v)", len(started), len(res.Layers), doneBeforeStart)
	}
	for _, l := range res.Layers {
		open := started[l]
		if got := readAll(t, func() (io.ReadCloser, error) { return open(), nil }); got != digestOf(l) {
			t.Errorf("the started layer's bytes hash to %s, its digest is %s", got, digestOf(l))
		}
	}
	var stored atomic.Int64
	gz := build(t, dir, builder.WithCompression(builder.Gzip), builder.WithHooks(hooks.Build{Deferred: true,
		LayerStart: func(v1.Layer, func() io.ReadCloser) { stored.Add(1) }}))
	if want := len(gz.Layers); int(stored.Load()) != want && (runtime.GOOS != "windows" || stored.Load() != 0) {
		t.Errorf("%d gzip (stored) layers of %d were started", stored.Load(), len(gz.Layers))
	}
}

// TestDeferredUncompressed: the tar of a deferred compressed layer (a
// build-cache hit of a push-only build) is encoded again from the files
// without compressing it; it is the stored layer's tar, and a file changed
// since the build fails the read.
func TestDeferredUncompressed(t *testing.T) {
	defer builder.SetRacyWindow(0)()
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	cache := t.TempDir()
	stored := build(t, dir, builder.WithCompression(builder.Gzip), builder.WithCache(cache)).Layers[0]
	hit := build(t, dir, builder.WithCompression(builder.Gzip), deferred, builder.WithCache(cache)).Layers[0]
	if !hit.Deferred() || !hit.Cached() {
		t.Fatalf("deferred %v cached %v, want both", hit.Deferred(), hit.Cached())
	}
	want, _ := stored.DiffID()
	if got := readAll(t, hit.Uncompressed); got != want {
		t.Fatalf("the deferred layer's tar hashes to %s, the stored layer's diffID is %s", got, want)
	}
	os.WriteFile(filepath.Join(dir, "css", "site.css"), []byte("body { margin: 7 }\n"), 0o644)
	rc, _ := hit.Uncompressed()
	_, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, builder.ErrFileChanged) {
		t.Fatalf("Uncompressed after a change: %v, want ErrFileChanged", err)
	}
}
