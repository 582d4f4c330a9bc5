package unpack

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// defaultPlatform is the platform Select picks from an index when none is
// asked for and the index has more than one.
var defaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Select returns the image to unpack from art, a v1.Image or a
// v1.ImageIndex. An image is returned as it is, whatever platform its
// config names (a runtime mounts a single manifest on any node). From an
// index it picks the manifest for platform (os/arch, and the variant when
// platform has one); a nil platform picks linux/amd64 when the index has
// it, else its only image. Entries without a platform, or with
// unknown/unknown (attestation manifests), are not images to pick. An
// index without the platform fails with ErrPlatform, listing the ones it
// has.
func Select(art partial.Describable, platform *v1.Platform) (v1.Image, error) {
	switch a := art.(type) {
	case v1.Image:
		return a, nil
	case v1.ImageIndex:
		return selectFrom(a, platform)
	}
	return nil, fmt.Errorf("%w: %T is neither an image nor an index", ErrInvalidImage, art)
}

func selectFrom(idx v1.ImageIndex, want *v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var (
		images []v1.Descriptor
		have   []string
	)
	for _, m := range im.Manifests {
		p := m.Platform
		if p == nil || p.OS == "unknown" || p.Architecture == "unknown" || !m.MediaType.IsImage() {
			continue
		}
		images = append(images, m)
		have = append(have, p.String())
	}
	pick := func(p v1.Platform) (v1.Descriptor, bool) {
		for _, m := range images { // exact match first, then any variant of os/arch
			if m.Platform.OS == p.OS && m.Platform.Architecture == p.Architecture && m.Platform.Variant == p.Variant {
				return m, true
			}
		}
		for _, m := range images {
			if p.Variant == "" && m.Platform.OS == p.OS && m.Platform.Architecture == p.Architecture {
				return m, true
			}
		}
		return v1.Descriptor{}, false
	}
	list := strings.Join(have, ", ")
	var desc v1.Descriptor
	switch m, ok := pick(defaultPlatform); {
	case want != nil:
		if desc, ok = pick(*want); !ok {
			return nil, marked{fmt.Errorf("index %s has no image for %s; it has %s", d, want, orNone(list)), ErrPlatform}
		}
	case ok:
		desc = m
	case len(images) == 1:
		desc = images[0]
	default:
		return nil, marked{fmt.Errorf("index %s has %d images (%s) and none for %s; choose a platform", d, len(images), orNone(list), &defaultPlatform), ErrPlatform}
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading the %s image %s: %w", desc.Platform, desc.Digest, err)
	}
	return pinned{img, desc.Digest}, nil
}

// pinned is an image of an index, whose digest is the one the index names:
// the manifest's bytes are checked against it (see verifiedLayers), even
// where the image would compute its digest from those bytes.
type pinned struct {
	v1.Image
	digest v1.Hash
}

func (p pinned) Digest() (v1.Hash, error) { return p.digest, nil }

func orNone(list string) string {
	if list == "" {
		return "no platform images"
	}
	return list
}
