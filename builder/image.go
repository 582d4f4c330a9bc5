package builder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// image is one platform's manifest and config over shared layers. It
// implements v1.Image over exactly these bytes, so what ggcr pushes or
// writes is what we computed, and layers stay *Layer (file-backed).
type image struct {
	manifest []byte
	config   []byte
	layers   []*Layer
}

var _ v1.Image = (*image)(nil)

func (i *image) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *image) Size() (int64, error)                { return int64(len(i.manifest)), nil }
func (i *image) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *image) ConfigName() (v1.Hash, error)        { return partial.ConfigName(i) }
func (i *image) ConfigFile() (*v1.ConfigFile, error) { return partial.ConfigFile(i) }
func (i *image) Manifest() (*v1.Manifest, error)     { return partial.Manifest(i) }

func (i *image) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.layers))
	for k, l := range i.layers {
		out[k] = l
	}
	return out, nil
}

func (i *image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if cfg, _ := i.ConfigName(); cfg == h {
		return partial.ConfigLayer(i)
	}
	for _, l := range i.layers {
		if l.digest == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer %s not found in image", h)
}

func (i *image) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer with diffID %s not found in image", h)
}

// index is a multi-platform image index over images sharing the same layers.
type index struct {
	raw    []byte
	images map[v1.Hash]v1.Image
}

var _ v1.ImageIndex = (*index)(nil)

func (x *index) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
func (x *index) Digest() (v1.Hash, error)            { return partial.Digest(x) }
func (x *index) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *index) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *index) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}
func (x *index) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("image %s not found in index", h)
}
func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index %s not found in index", h)
}

func descriptor(mt types.MediaType, raw []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
}

func layerDescriptor(l *Layer) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: string(l.compression.mediaType()),
		Digest:    digest.Digest(l.digest.String()),
		Size:      l.size,
	}
}

// makeImage writes the config and manifest of one platform. The config is a
// plain OCI image config (no entrypoint, env, user or history) so that
// runtimes treat the result as an image, never as an artifact.
func makeImage(p v1.Platform, created time.Time, labels, annotations map[string]string, layers []*Layer) (*image, error) {
	cfg := ocispec.Image{
		Created: &created,
		Platform: ocispec.Platform{
			Architecture: p.Architecture,
			OS:           p.OS,
			OSVersion:    p.OSVersion,
			Variant:      p.Variant,
		},
		Config: ocispec.ImageConfig{Labels: labels},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}},
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.Digest(l.diffID.String()))
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      descriptor(types.OCIConfigJSON, rawCfg),
		Layers:      []ocispec.Descriptor{},
		Annotations: annotations,
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, layerDescriptor(l))
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding image manifest: %w", err)
	}
	return &image{manifest: rawManifest, config: rawCfg, layers: layers}, nil
}

func makeIndex(platforms []v1.Platform, imgs []*image, annotations map[string]string) (*index, error) {
	idx := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   []ocispec.Descriptor{},
		Annotations: annotations,
	}
	x := &index{images: map[v1.Hash]v1.Image{}}
	for i, img := range imgs {
		d := descriptor(types.OCIManifestSchema1, img.manifest)
		p := platforms[i]
		d.Platform = &ocispec.Platform{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, Variant: p.Variant}
		idx.Manifests = append(idx.Manifests, d)
		h, err := v1.NewHash(d.Digest.String())
		if err != nil {
			return nil, err
		}
		x.images[h] = img
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("encoding image index: %w", err)
	}
	x.raw = raw
	return x, nil
}
