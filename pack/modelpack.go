package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/publish"
)

// ModelPack asks for the image's ModelPack twin: a CNCF ModelPack manifest
// whose layers are the image's own blobs (package modelpack), beside the
// image in the local output and attached to it as an OCI 1.1 referrer in
// every repository pushed to, through the registry's referrers API or the
// tag schema. Model tools read the twin, the kubelet mounts the image, and
// no blob is stored twice. It needs Image.Layers to be builder.LayersModel
// (or empty: Run then sets it), so that each weight file is a layer of its
// own.
type ModelPack struct {
	// Metadata fills the model config: name, family, architecture, format,
	// parameter size, precision, … An empty Descriptor.Name is the source
	// directory's name; an empty Config.Format is the weights' format when
	// every weight file has the same one (safetensors, gguf or onnx).
	Metadata modelpack.Metadata
	// Optional pushes and tags the image even when the registry does not
	// take the twin (ModelPackResult.Refused says why). Otherwise the twin
	// is attached between the image's manifest and its tags, and a
	// registry that refuses it fails Run (ErrModelPack) before any tag is
	// written: the blobs and the manifest are then in the repository by
	// digest, untagged.
	Optional bool
}

// ErrModelPack is matched (errors.Is) by the error of a Run whose registry
// did not take the ModelPack twin (and ModelPack.Optional was not set).
var ErrModelPack = errors.New("the registry did not take the image's ModelPack manifest")

// ModelPackResult is the twin that Run wrote.
type ModelPackResult struct {
	// Manifest is the twin's config and layers.
	Manifest *modelpack.Manifest
	// Digest is the twin's manifest digest (its subject is Result.Digest).
	Digest v1.Hash
	// Attached says where it went in each repository pushed to, and how
	// the registry lists it (referrers API or tag schema).
	Attached []*publish.Attached
	// Refused is why a registry did not take it (ModelPack.Optional); the
	// image was pushed and tagged without it there.
	Refused error
}

// checkModelPack checks the request before anything is built and sets the
// layer mode.
func checkModelPack(spec *Spec) error {
	if spec.ModelPack == nil {
		return nil
	}
	mp := *spec.ModelPack // the defaults below are not the caller's
	spec.ModelPack = &mp
	if spec.Source == "" {
		return specErr("ModelPack", "a ModelPack manifest names the layers of a build: give Source")
	}
	switch spec.Image.Layers {
	case "":
		spec.Image.Layers = builder.LayersModel
	case builder.LayersModel:
	default:
		return specErr("Image.Layers", "is %q; a ModelPack manifest needs each weight file in a layer of its own: use %q (or leave it empty)", spec.Image.Layers, builder.LayersModel)
	}
	if mp.Metadata.Descriptor.Name == "" {
		if abs, err := filepath.Abs(spec.Source); err == nil {
			mp.Metadata.Descriptor.Name = filepath.Base(abs)
		}
	}
	return mp.Metadata.Check()
}

// twin describes the build as a ModelPack referrer.
func twin(mp *ModelPack, b *builder.Result) (*ModelPackResult, *publish.Referrer, error) {
	m, err := modelpack.New(b.Layers, mp.Metadata, b.Created)
	if err != nil {
		return nil, nil, err
	}
	ref := &publish.Referrer{
		ArtifactType: modelpack.ArtifactType,
		Config:       &publish.Blob{MediaType: modelpack.ConfigType, Data: m.Config},
		Annotations:  m.Annotations,
	}
	for _, l := range m.Layers {
		ref.Layers = append(ref.Layers, publish.Blob{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, Annotations: l.Annotations})
	}
	raw, err := ref.Manifest(v1.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
	if err != nil {
		return nil, nil, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	return &ModelPackResult{Manifest: m, Digest: d}, ref, nil
}

// attachTwin is the uploader's BeforeTags hook: the twin goes to each
// repository before its tags.
func attachTwin(reg *publish.Registry, mp *ModelPack, ref *publish.Referrer, r *ModelPackResult) func(context.Context, name.Digest) error {
	return func(ctx context.Context, d name.Digest) error {
		a, err := reg.Attach(ctx, d, ref)
		switch {
		case err == nil:
			r.Attached = append(r.Attached, a)
			return nil
		case errors.Is(err, context.Canceled):
			return err
		case mp.Optional:
			if r.Refused == nil {
				r.Refused = err
			}
			return nil
		}
		return fmt.Errorf("%w: %w", ErrModelPack, err)
	}
}
