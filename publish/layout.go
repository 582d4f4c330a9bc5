package publish

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Artifact is a v1.Image or a v1.ImageIndex.
type Artifact = partial.Describable

// We write layouts ourselves rather than through ggcr's layout package: the
// directory and the archive must hold the same bytes, blobs built on the same
// file system are hard-linked instead of copied, and index.json is written
// once, deterministically, with the ref name.

type blob struct {
	digest v1.Hash
	size   int64
	data   []byte // small blobs (manifests, configs)
	layer  v1.Layer
}

func (b blob) open() (io.ReadCloser, error) {
	if b.data != nil {
		return io.NopCloser(bytes.NewReader(b.data)), nil
	}
	return b.layer.Compressed()
}

// filePath is implemented by layers stored in a file (builder.Layer).
type filePath interface{ Path() string }

// collectBlobs lists every blob of art once, sorted by digest.
func collectBlobs(art Artifact) ([]blob, error) {
	seen := map[v1.Hash]blob{}
	var addImage func(img v1.Image) error
	addRaw := func(raw []byte) {
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		seen[h] = blob{digest: h, size: int64(len(raw)), data: raw}
	}
	addImage = func(img v1.Image) error {
		raw, err := img.RawManifest()
		if err != nil {
			return fmt.Errorf("reading manifest: %w", err)
		}
		addRaw(raw)
		cfg, err := img.RawConfigFile()
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		addRaw(cfg)
		layers, err := img.Layers()
		if err != nil {
			return fmt.Errorf("reading layers: %w", err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			sz, err := l.Size()
			if err != nil {
				return err
			}
			seen[d] = blob{digest: d, size: sz, layer: l}
		}
		return nil
	}
	switch a := art.(type) {
	case v1.ImageIndex:
		raw, err := a.RawManifest()
		if err != nil {
			return nil, err
		}
		addRaw(raw)
		im, err := a.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range im.Manifests {
			img, err := a.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			if err := addImage(img); err != nil {
				return nil, err
			}
		}
	case v1.Image:
		if err := addImage(a); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cannot write %T: not an image or an index", art)
	}
	out := make([]blob, 0, len(seen))
	for _, b := range seen {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].digest.String() < out[j].digest.String() })
	return out, nil
}

// addReferrers adds the blobs of referrers of art to bs (kept sorted by
// digest) and returns the descriptors of their manifests.
func addReferrers(art Artifact, bs *[]blob, referrers []*Referrer) ([]ocispec.Descriptor, error) {
	if len(referrers) == 0 {
		return nil, nil
	}
	desc, err := partial.Descriptor(art)
	if err != nil {
		return nil, err
	}
	subject, d := v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, desc.Digest
	have := map[v1.Hash]bool{}
	for _, b := range *bs {
		have[b.digest] = true
	}
	add := func(data []byte) v1.Hash {
		h, _, _ := v1.SHA256(bytes.NewReader(data))
		if !have[h] {
			have[h] = true
			*bs = append(*bs, blob{digest: h, size: int64(len(data)), data: data})
		}
		return h
	}
	var out []ocispec.Descriptor
	for _, r := range referrers {
		raw, err := r.Manifest(subject)
		if err != nil {
			return nil, err
		}
		cfg := Blob{MediaType: EmptyJSON, Data: emptyJSON}
		if r.Config != nil {
			cfg = *r.Config
		}
		for _, b := range append([]Blob{cfg}, r.Layers...) {
			if b.stored() {
				if !have[b.Digest] {
					return nil, fmt.Errorf("writing a referrer of %s: it names blob %s, which the image does not have", d, b.Digest)
				}
				continue
			}
			add(b.Data)
		}
		h := add(raw)
		out = append(out, ocispec.Descriptor{MediaType: string(types.OCIManifestSchema1), Digest: digest.Digest(h.String()),
			Size: int64(len(raw)), ArtifactType: r.ArtifactType, Annotations: r.Annotations})
	}
	sort.Slice(*bs, func(i, j int) bool { return (*bs)[i].digest.String() < (*bs)[j].digest.String() })
	return out, nil
}

// layoutIndex is the layout's index.json, naming art refName, and listing
// extra manifests after it.
func layoutIndex(art Artifact, refName string, extra ...ocispec.Descriptor) ([]byte, error) {
	a, err := partial.Descriptor(art)
	if err != nil {
		return nil, err
	}
	desc := ocispec.Descriptor{MediaType: string(a.MediaType), Digest: digest.Digest(a.Digest.String()), Size: a.Size}
	if refName != "" {
		desc.Annotations = map[string]string{ocispec.AnnotationRefName: refName}
	}
	return json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: append([]ocispec.Descriptor{desc}, extra...),
	})
}

var layoutMarker = []byte(`{"imageLayoutVersion":"1.0.0"}`)

func writeLayout(ctx context.Context, dir string, index []byte, blobs []blob) error {
	bdir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return fmt.Errorf("creating layout: %w", err)
	}
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeBlobFile(filepath.Join(bdir, b.digest.Hex), b); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), layoutMarker, 0o644); err != nil {
		return fmt.Errorf("writing layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return fmt.Errorf("writing layout: %w", err)
	}
	return nil
}

func writeBlobFile(dst string, b blob) error {
	if fp, ok := b.layer.(filePath); ok && b.layer != nil {
		if err := os.Link(fp.Path(), dst); err == nil {
			return nil
		}
	}
	rc, err := b.open()
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", b.digest, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", b.digest, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, err := io.Copy(bw, rc)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", b.digest, err)
	}
	if n != b.size {
		return fmt.Errorf("writing blob %s: wrote %d bytes, want %d", b.digest, n, b.size)
	}
	return nil
}

// writeArchive writes the layout as one tar stream: oci-layout and
// index.json first (so readers can identify it early), then the blobs in
// digest order. Headers are normalised like the layers'.
func writeArchive(ctx context.Context, file string, index []byte, blobs []blob) (err error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing archive: %w", cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	epoch := time.Unix(0, 0).UTC()
	hdr := func(name string, typ byte, mode, size int64) error {
		return tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX})
	}
	if err := hdr("oci-layout", tar.TypeReg, 0o644, int64(len(layoutMarker))); err != nil {
		return err
	}
	if _, err := tw.Write(layoutMarker); err != nil {
		return err
	}
	if err := hdr("index.json", tar.TypeReg, 0o644, int64(len(index))); err != nil {
		return err
	}
	if _, err := tw.Write(index); err != nil {
		return err
	}
	if err := hdr("blobs/", tar.TypeDir, 0o755, 0); err != nil {
		return err
	}
	if err := hdr("blobs/sha256/", tar.TypeDir, 0o755, 0); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := hdr("blobs/sha256/"+b.digest.Hex, tar.TypeReg, 0o644, b.size); err != nil {
			return fmt.Errorf("writing archive: %w", err)
		}
		rc, err := b.open()
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", b.digest, err)
		}
		_, err = io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("writing blob %s to archive: %w", b.digest, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}
