package unpack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// verifiedLayers returns img's layers wrapped so that reading one checks
// its compressed bytes against the manifest and its tar against the
// config, after checking the manifest and the config themselves.
func verifiedLayers(img v1.Image) ([]v1.Layer, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	if got := sha256Hash(raw); got != d {
		return nil, fmt.Errorf("manifest %s: %w: its bytes hash to %s", d, ErrDigestMismatch, got)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %v", ErrInvalidImage, d, err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config %s: %w", m.Config.Digest, err)
	}
	if got := sha256Hash(rawCfg); got != m.Config.Digest {
		return nil, fmt.Errorf("config %s: %w: its bytes hash to %s, the manifest says %s", m.Config.Digest, ErrDigestMismatch, got, m.Config.Digest)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("%w: config %s: %v", ErrInvalidImage, m.Config.Digest, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing the layers: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) || len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("%w: the manifest lists %d layers, the config %d diff_ids", ErrInvalidImage, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		out[i] = &verifiedLayer{Layer: l, index: i, desc: m.Layers[i], diffID: cf.RootFS.DiffIDs[i]}
	}
	return out, nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// verifiedLayer is a layer whose Digest, DiffID and Size are those of the
// manifest and the config, and whose Uncompressed stream fails at its end
// if the bytes do not match them.
type verifiedLayer struct {
	v1.Layer
	index  int
	desc   v1.Descriptor
	diffID v1.Hash
}

func (l *verifiedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *verifiedLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *verifiedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *verifiedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Uncompressed decompresses the blob as it streams (gzip, zstd or a plain
// tar, told apart by their magic numbers: the digests, not the media type,
// say whether the bytes are right), hashing both sides.
func (l *verifiedLayer) Uncompressed() (io.ReadCloser, error) {
	if l.desc.Digest.Algorithm != "sha256" || l.diffID.Algorithm != "sha256" {
		return nil, fmt.Errorf("%w: layer %d: only sha256 digests are supported, got %s and %s", ErrInvalidImage, l.index+1, l.desc.Digest, l.diffID)
	}
	raw, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	v := &verifier{layer: l, raw: raw, ch: sha256.New(), uh: sha256.New()}
	v.br = bufio.NewReaderSize(io.TeeReader(raw, &v.counted), 1<<20)
	v.counted.h = v.ch
	magic, _ := v.br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(v.br)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: layer %d (%s): %v", ErrInvalidImage, l.index+1, l.desc.Digest, err)
		}
		v.dec, v.closeDec = zr, func() { zr.Close() }
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(v.br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: layer %d (%s): %v", ErrInvalidImage, l.index+1, l.desc.Digest, err)
		}
		v.dec, v.closeDec = zr, zr.Close
	default:
		v.dec, v.closeDec = v.br, func() {}
	}
	return v, nil
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// verifier hashes a layer's compressed bytes (ch) and its tar (uh).
type verifier struct {
	layer    *verifiedLayer
	raw      io.ReadCloser
	counted  countingHash
	br       *bufio.Reader
	dec      io.Reader
	closeDec func()
	ch, uh   hash.Hash
	done     bool
	err      error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.dec.Read(p)
	v.uh.Write(p[:n])
	if err == io.EOF {
		if verr := v.finish(); verr != nil {
			return n, verr
		}
	} else if err != nil {
		v.err = err
	}
	return n, err
}

// finish reads what follows the compressed stream (so the whole blob is
// hashed) and compares both digests and the size.
func (v *verifier) finish() error {
	if v.done {
		return v.err
	}
	v.done = true
	if _, err := io.Copy(io.Discard, v.br); err != nil {
		v.err = err
		return err
	}
	// No layer name here: rootfs wraps every error with the layer's
	// number and digest.
	l := v.layer
	switch got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.ch.Sum(nil))}); {
	case got != l.desc.Digest:
		v.err = fmt.Errorf("%w: its bytes hash to %s, the manifest says %s", ErrDigestMismatch, got, l.desc.Digest)
	case v.counted.n != l.desc.Size:
		v.err = fmt.Errorf("%w: it has %d bytes, the manifest says %d", ErrDigestMismatch, v.counted.n, l.desc.Size)
	default:
		if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.uh.Sum(nil))}); got != l.diffID {
			v.err = fmt.Errorf("%w: its uncompressed tar hashes to %s, the config's diff_id is %s", ErrDigestMismatch, got, l.diffID)
		}
	}
	return v.err
}

// Close closes the blob. The digests are checked at the end of the stream
// (package rootfs reads every layer to its end); a reader that stops early
// has failed for another reason, and is not made to download the rest.
func (v *verifier) Close() error {
	v.closeDec()
	return v.raw.Close()
}
