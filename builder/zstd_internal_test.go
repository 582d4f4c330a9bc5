package builder

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestZstdReuse: an encoder from the pool, after other streams, writes the
// bytes a new encoder with the format's options writes (no lower-memory
// mode), so pooling cannot move a zstd layer's digest.
func TestZstdReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var text bytes.Buffer
	for text.Len() < 5<<20 {
		fmt.Fprintf(&text, "<p>page %d: %s</p>\n", r.IntN(1000), []string{"asset", "pack", "layer", "volume"}[r.IntN(4)])
	}
	noise := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	inputs := [][]byte{text.Bytes(), noise, []byte("small"), nil}
	for round := 0; round < 3; round++ {
		for i, in := range inputs {
			zw := zstdEncoders.Get().(*zstd.Encoder)
			var got bytes.Buffer
			zw.Reset(&got)
			zw.Write(in)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			zstdEncoders.Put(zw)

			var want bytes.Buffer
			fresh, err := zstd.NewWriter(&want, zstd.WithEncoderLevel(zstd.SpeedDefault),
				zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
			if err != nil {
				t.Fatal(err)
			}
			fresh.Write(in)
			fresh.Close()
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("round %d, input %d: pooled encoder wrote %d bytes unlike a new encoder's %d", round, i, got.Len(), want.Len())
			}
		}
	}
}
