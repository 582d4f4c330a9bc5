package publish

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mountable wraps art so that ggcr asks the registry to mount each layer
// from another repository (cross-repository blob mount) instead of
// uploading it again.
func mountable(art Artifact, from name.Reference) Artifact {
	switch a := art.(type) {
	case v1.ImageIndex:
		return &mountIndex{index: a, from: from}
	case v1.Image:
		return &mountImage{Image: a, from: from}
	}
	return art
}

type mountImage struct {
	v1.Image
	from name.Reference
}

func (m *mountImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &remote.MountableLayer{Layer: l, Reference: m.from}
	}
	return out, nil
}

// index names the embedded index so that its ImageIndex method is
// promoted: a field named ImageIndex would hide it, and *mountIndex would
// not be a v1.ImageIndex at all.
type index = v1.ImageIndex

type mountIndex struct {
	index
	from name.Reference
}

func (m *mountIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.index.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountImage{Image: img, from: m.from}, nil
}
