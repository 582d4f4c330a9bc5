package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/internal/hooks"
)

// TestFollowedFile: readers opened before the file exists, while it is
// written and after it is renamed all read exactly the bytes written; a
// reader waiting for bytes returns when it is closed; a failed write ends
// every reader with its error, after what was written.
func TestFollowedFile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 300<<10)
	rand.NewChaCha8([32]byte{7}).Read(data)

	f := newFollowedFile()
	readAll := func(r io.ReadCloser) ([]byte, error) {
		defer r.Close()
		return io.ReadAll(r)
	}
	type result struct {
		b   []byte
		err error
	}
	var wg sync.WaitGroup
	results := make([]result, 3)
	start := func(i int) {
		r := f.open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].b, results[i].err = readAll(r)
		}()
	}
	start(0) // before the file exists
	tmp := filepath.Join(dir, "layer.tmp")
	file, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	f.created(tmp)
	w := notifyWriter{file, f}
	for i := 0; i < len(data); i += 10 << 10 {
		if _, err := w.Write(data[i:min(i+10<<10, len(data))]); err != nil {
			t.Fatal(err)
		}
		if i == 100<<10 {
			start(1) // while it is written
		}
	}
	file.Close()
	if err := f.rename(filepath.Join(dir, "layer")); err != nil {
		t.Fatal(err)
	}
	start(2) // after the rename
	wg.Wait()
	for i, r := range results {
		if r.err != nil || !bytes.Equal(r.b, data) {
			t.Errorf("reader %d: %d bytes, %v; want the %d bytes written", i, len(r.b), r.err, len(data))
		}
	}

	// Close unblocks a reader waiting for bytes.
	g := newFollowedFile()
	r := g.open()
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Read after Close succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock a waiting Read")
	}

	// A failed write: what was written, then the error.
	h := newFollowedFile()
	p := filepath.Join(dir, "failed.tmp")
	os.WriteFile(p, data[:1000], 0o644)
	h.created(p)
	h.wrote(1000)
	boom := errors.New("boom")
	h.failed(boom)
	got, err := readAll(h.open())
	if !errors.Is(err, boom) || !bytes.Equal(got, data[:1000]) {
		t.Errorf("failed file: %d bytes, %v; want the 1000 written, then %v", len(got), err, boom)
	}
}

// TestLayerStartCompressed: a push-only (Deferred) build hands each
// compressed layer to LayerStart before encoding it, with a reader whose
// bytes are the blob LayerDone then describes (its digest and size), and
// the build's digest is the same as without the hook. A layer from the
// build cache gets no call.
func TestLayerStartCompressed(t *testing.T) {
	if !canFollow {
		t.Skip("compressed layers are not followed on " + runtime.GOOS)
	}
	src := t.TempDir()
	for i := range 40 {
		name := filepath.Join(src, "dir", string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i)})+".html")
		os.MkdirAll(filepath.Dir(name), 0o755)
		os.WriteFile(name, bytes.Repeat([]byte("<p>compressible page</p>\n"), 2000+i*300), 0o644)
	}
	cache := t.TempDir()
	build := func() (map[v1.Layer][32]byte, *Result) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		sums := map[v1.Layer][32]byte{}
		r, err := Build(context.Background(), src, WithGit(false), WithCompression(Gzip), WithCache(cache), WithLayers(LayersAuto),
			WithHooks(hooks.Build{Deferred: true, LayerStart: func(l v1.Layer, open func() io.ReadCloser) {
				wg.Add(1)
				go func() { // read as an uploader would, beside the encoding
					defer wg.Done()
					rc := open()
					defer rc.Close()
					h := sha256.New()
					if _, err := io.Copy(h, rc); err != nil {
						t.Errorf("reading a layer while it is encoded: %v", err)
						return
					}
					mu.Lock()
					sums[l] = [32]byte(h.Sum(nil))
					mu.Unlock()
				}()
			}}))
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return sums, r
	}
	sums, r := build()
	defer r.Close()
	if len(sums) != len(r.Layers) || len(sums) == 0 {
		t.Fatalf("LayerStart called for %d layers of %d", len(sums), len(r.Layers))
	}
	for _, l := range r.Layers {
		d, _ := l.Digest()
		if got, ok := sums[l]; !ok || hex.EncodeToString(got[:]) != d.Hex {
			t.Errorf("layer %s: the reader LayerStart got read sha256:%x", d, got)
		}
	}
	plain, err := Build(context.Background(), src, WithGit(false), WithCompression(Gzip), WithLayers(LayersAuto))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.Digest != r.Digest {
		t.Errorf("digest %s with LayerStart, %s without", r.Digest, plain.Digest)
	}
	again, r2 := build() // every layer from the cache
	defer r2.Close()
	if len(again) != 0 {
		t.Errorf("LayerStart called for %d cached layers", len(again))
	}
}
