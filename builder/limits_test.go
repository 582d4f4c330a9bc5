package builder_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
)

// TestFileTooLargeForLayer: a file that no layer under the limit can hold
// fails the build before any layer is encoded, naming the file, its size
// and the limit; a compressible one is let through (compression may bring
// it under; publish checks the blob), and so is everything under the
// limit, with the digest the build has without limits.
func TestFileTooLargeForLayer(t *testing.T) {
	src := t.TempDir()
	noise := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{3}).Read(noise)
	os.MkdirAll(filepath.Join(src, "model"), 0o755)
	os.WriteFile(filepath.Join(src, "model", "weights.bin"), noise, 0o644)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>\n"), 0o644)
	lim := builder.LayerLimits{MaxLayerSize: 1 << 20, Reason: "the test registry's layer limit of 1 MiB"}
	for _, c := range []builder.Compression{builder.None, builder.Gzip, builder.Auto} {
		encoded := 0
		_, err := builder.Build(context.Background(), src, builder.WithGit(false), builder.WithCompression(c), builder.WithLayerLimits(lim),
			builder.WithHooks(hooks.Build{LayerDone: func(v1.Layer) { encoded++ }}))
		var pe *builder.PathError
		if !errors.As(err, &pe) || !errors.Is(err, builder.ErrTooLarge) || !errors.Is(err, builder.ErrBadInput) ||
			!strings.Contains(err.Error(), filepath.Join(src, "model", "weights.bin")) || !strings.Contains(err.Error(), "2.1 MB (2097152 bytes), over the test registry's layer limit of 1 MiB") ||
			!strings.Contains(err.Error(), "a file cannot span two layers") {
			t.Errorf("%s: Build() = %v, want a PathError naming the file, its size and the limit", c, err)
		}
		if encoded != 0 {
			t.Errorf("%s: %d layers encoded before the limit was checked", c, encoded)
		}
	}

	// Compressible: gzip may bring it under.
	os.WriteFile(filepath.Join(src, "model", "weights.bin"), make([]byte, 2<<20), 0o644)
	if r, err := builder.Build(context.Background(), src, builder.WithGit(false), builder.WithCompression(builder.Gzip), builder.WithLayerLimits(lim)); err != nil {
		t.Errorf("a compressible file over the limit with gzip: %v", err)
	} else {
		r.Close()
	}
	// Under the limit: the same digest as without limits.
	os.WriteFile(filepath.Join(src, "model", "weights.bin"), noise[:512<<10], 0o644)
	a, err := builder.Build(context.Background(), src, builder.WithGit(false), builder.WithLayerLimits(lim))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := builder.Build(context.Background(), src, builder.WithGit(false))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Digest != b.Digest {
		t.Errorf("limits the tree keeps to changed its digest: %s, want %s", a.Digest, b.Digest)
	}
	if _, err := builder.Build(context.Background(), src, builder.WithLayerLimits(builder.LayerLimits{MaxLayers: -1})); !errors.Is(err, builder.ErrInvalidOption) {
		t.Errorf("negative limit: %v", err)
	}
}
