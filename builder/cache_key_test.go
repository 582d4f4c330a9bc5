package builder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyV1 is layerCache.key as first written (one hash write per field). The
// key's bytes are the cache's on-disk contract: a change would make every
// user's next build a miss, so the buffered key must hash the same stream.
func keyV1(in *layerInput, comp Compression, mtime time.Time, now time.Time) (string, bool) {
	h := sha256.New()
	var num [8]byte
	putInt := func(v int64) {
		binary.LittleEndian.PutUint64(num[:], uint64(v))
		h.Write(num[:])
	}
	putStr := func(s string) {
		putInt(int64(len(s)))
		h.Write([]byte(s))
	}
	putStr(cacheVersion)
	putStr(string(comp))
	putInt(mtime.Unix())
	ok := true
	in.each(func(e *entry) error {
		putStr(e.name)
		putInt(int64(e.kind))
		putInt(int64(e.mode))
		putInt(e.size)
		putStr(e.linkname)
		if e.kind != kindFile {
			return nil
		}
		id := e.id
		if !id.full || now.Sub(time.Unix(0, id.ctime)) < racyWindow || now.Sub(time.Unix(0, id.mtime)) < racyWindow {
			ok = false
			return errStop
		}
		putStr(filepath.Join(e.t.root, filepath.FromSlash(e.rel()))) // src() as first written
		for _, v := range []int64{int64(id.dev), int64(id.ino), id.size, id.mtime, id.ctime} {
			putInt(v)
		}
		return nil
	})
	if !ok {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// TestCacheKeyStable: the buffered key equals keyV1 for every layer of a
// tree with many small files, a name longer than the key's buffer, a
// symlink and nested directories, with and without a prefix.
func TestCacheKeyStable(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3000; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d/e%02d/f%05d.html", i%7, i%5, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(strings.Repeat("x", i%100)), 0o644)
		// mtime unlike ctime, so that a swapped field changes the key
		os.Chtimes(p, time.Time{}, time.Unix(1600000000+int64(i), 0))
	}
	long := filepath.Join(dir, strings.Repeat("n", 200), strings.Repeat("m", 200), strings.Repeat("o", 200))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(long, "deep.txt"), []byte("deep"), 0o644)
	os.Symlink("d00/e00/f00000.html", filepath.Join(dir, "link"))
	ig, err := newIgnorer(dir, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The files are new: move the clock past the racy window.
	now := time.Now().Add(time.Hour)
	for _, prefix := range []string{"", "srv/site"} {
		o := defaultOptions()
		w := &walker{root: dir, display: dir, o: &o, ig: ig}
		if err := w.walk(info); err != nil {
			t.Fatal(err)
		}
		entries := w.entries
		if prefix != "" {
			for _, e := range entries {
				e.name = prefix + "/" + e.name
			}
			w.t.cut = len(prefix) + 1
		}
		slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
		ins, _ := planLayers(entries, LayersAuto, LayerLimits{})
		single, _ := planLayers(entries, LayersSingle, LayerLimits{})
		ins = append(ins, single...)
		var c layerCache
		for i := range ins {
			got, ok1 := c.key(&ins[i], Gzip, time.Unix(1700000000, 0), now)
			want, ok2 := keyV1(&ins[i], Gzip, time.Unix(1700000000, 0), now)
			if got != want || !ok1 || !ok2 {
				t.Fatalf("prefix %q, layer %d: key %s (%v), want %s (%v)", prefix, i, got, ok1, want, ok2)
			}
		}
		if len(ins) < 2 {
			t.Fatalf("only %d layers: the test covers too little", len(ins))
		}
	}

	// Strings around and beyond the key's buffer (names and symlink
	// targets can be as long as the file system allows).
	tr := &tree{root: dir, display: dir}
	var span []*entry
	for i, n := range []int{0, 1, 100, 4 << 10, 32<<10 - 50, 33 << 10, 36 << 10, 80 << 10, 7} {
		span = append(span,
			&entry{name: fmt.Sprintf("%03d", i) + strings.Repeat("a", n), kind: kindDir, mode: 0o755, t: tr},
			&entry{name: fmt.Sprintf("%03dl", i), kind: kindSymlink, mode: 0o777, linkname: strings.Repeat("b", n), t: tr})
	}
	in := layerInput{span: span}
	var c layerCache
	got, _ := c.key(&in, Zstd, time.Unix(0, 0), now)
	want, _ := keyV1(&in, Zstd, time.Unix(0, 0), now)
	if got != want {
		t.Errorf("long strings: key %s, want %s", got, want)
	}
}
