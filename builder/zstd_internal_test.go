package builder

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestZstdReuse: an encoder from each level's pool, after other streams,
// writes the bytes a new encoder with the format's options writes (no
// lower-memory mode), so pooling cannot move a zstd layer's digest; and each
// preset writes bytes of its own level.
func TestZstdReuse(t *testing.T) {
	levels := map[Compression]zstd.EncoderLevel{Zstd: zstd.SpeedDefault, ZstdBetter: zstd.SpeedBetterCompression, ZstdBest: zstd.SpeedBestCompression}
	if len(levels) != len(zstdEncoders) {
		t.Fatalf("%d pools for %d levels", len(zstdEncoders), len(levels))
	}
	r := rand.New(rand.NewPCG(3, 4))
	var text bytes.Buffer
	for text.Len() < 5<<20 {
		fmt.Fprintf(&text, "<p>page %d: %s</p>\n", r.IntN(1000), []string{"asset", "pack", "layer", "volume"}[r.IntN(4)])
	}
	noise := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	inputs := [][]byte{text.Bytes(), noise, []byte("small"), nil}
	for c, level := range levels {
		for round := 0; round < 3; round++ {
			for i, in := range inputs {
				zw := zstdEncoders[c].Get().(*zstd.Encoder)
				var got bytes.Buffer
				zw.Reset(&got)
				zw.Write(in)
				if err := zw.Close(); err != nil {
					t.Fatal(err)
				}
				zstdEncoders[c].Put(zw)

				var want bytes.Buffer
				fresh, err := zstd.NewWriter(&want, zstd.WithEncoderLevel(level),
					zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
				if err != nil {
					t.Fatal(err)
				}
				fresh.Write(in)
				fresh.Close()
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Fatalf("%s, round %d, input %d: pooled encoder wrote %d bytes unlike a new encoder's %d", c, round, i, got.Len(), want.Len())
				}
			}
		}
	}
	// The presets compress the text harder than the default (which of the
	// two wins depends on the data).
	sizes := map[Compression]int{}
	for c := range levels {
		var b bytes.Buffer
		zw := zstdEncoders[c].Get().(*zstd.Encoder)
		zw.Reset(&b)
		zw.Write(text.Bytes())
		zw.Close()
		zstdEncoders[c].Put(zw)
		sizes[c] = b.Len()
	}
	if !(sizes[ZstdBest] < sizes[Zstd] && sizes[ZstdBetter] < sizes[Zstd]) {
		t.Errorf("compressed sizes %v: want both presets below the default", sizes)
	}
}
