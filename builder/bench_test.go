package builder_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assetpack/assetpack/builder"
)

// Throughput and allocations are reported, not asserted: `make bench`.
// The bench/ harness (issue 8) compares against peer tools on larger sets.

func benchTree(b *testing.B, files, size int) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	r := rand.New(rand.NewSource(1))
	words := []string{"asset", "pack", "image", "volume", "nginx", "model", "layer", "digest", "<div>", "</div>\n"}
	var total int64
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d/e%02d/f%05d.html", i%17, i%13, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		buf := make([]byte, 0, size)
		for len(buf) < size {
			buf = append(buf, words[r.Intn(len(words))]...)
			buf = append(buf, ' ')
		}
		os.WriteFile(p, buf[:size], 0o644)
		total += int64(size)
	}
	return dir, total
}

func benchBuild(b *testing.B, dir string, total int64, c builder.Compression) {
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := builder.Build(context.Background(), dir, builder.WithGit(false),
			builder.WithSourceDateEpoch(time.Unix(0, 0)), builder.WithCompression(c))
		if err != nil {
			b.Fatal(err)
		}
		res.Close()
	}
}

func BenchmarkBuildManySmallFiles(b *testing.B) {
	dir, total := benchTree(b, 5000, 4096)
	for _, c := range []builder.Compression{builder.Gzip, builder.Zstd, builder.None} {
		b.Run(string(c), func(b *testing.B) { benchBuild(b, dir, total, c) })
	}
}

func BenchmarkBuildLargeFile(b *testing.B) {
	dir := b.TempDir()
	f, _ := os.Create(filepath.Join(dir, "weights.bin"))
	r := rand.New(rand.NewSource(2))
	buf := make([]byte, 1<<20)
	const size = 256 << 20
	for n := 0; n < size; n += len(buf) {
		r.Read(buf)
		f.Write(buf)
	}
	f.Close()
	for _, c := range []builder.Compression{builder.Gzip, builder.Zstd, builder.None} {
		b.Run(string(c), func(b *testing.B) { benchBuild(b, dir, size, c) })
	}
}
