package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// BenchmarkWalk lists and lstats a site-shaped tree (15,000 files in 1,700
// directories, 3 levels): the whole of an unchanged rebuild's reading.
func BenchmarkWalk(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 15000; i++ {
		p := filepath.Join(dir, fmt.Sprintf("s%02d/t%02d/c%02d/page%05d.html", i%10, i%17, i%10, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	ig, err := newIgnorer(dir, dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		b.Fatal(err)
	}
	o := defaultOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := &walker{root: dir, display: dir, o: &o, ig: ig}
		if err := w.walk(info); err != nil {
			b.Fatal(err)
		}
		if w.files != 15000 {
			b.Fatalf("walked %d files", w.files)
		}
	}
}

// TestEntrySize guards the per-file memory of a build (issue 8: 100 MiB
// for 150,000 files, entries included).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 104 {
		t.Errorf("entry is %d bytes, want at most 104", n)
	}
}
