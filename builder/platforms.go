package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PlatformSource is one platform of a build whose platforms have different
// content (BuildPlatforms): the directory packed for that platform, such
// as a program compiled for it.
type PlatformSource struct {
	Platform v1.Platform
	Dir      string
}

func (s PlatformSource) String() string { return s.Platform.String() + "=" + s.Dir }

// ParsePlatformSources parses PLATFORM=DIR values such as
// "linux/amd64=dist/amd64" (the platform as in ParsePlatforms). A platform
// given twice is an error; the order given is kept, because it is the
// order of the index's manifests.
func ParsePlatformSources(values []string) ([]PlatformSource, error) {
	var out []PlatformSource
	seen := map[string]bool{}
	for _, value := range values {
		p, dir, ok := strings.Cut(value, "=")
		if !ok || strings.TrimSpace(dir) == "" {
			return nil, optionError("platform source", value, "%q is not of the form os/arch[/variant]=DIRECTORY, for example linux/amd64=dist/amd64", value)
		}
		if strings.Contains(p, ",") {
			return nil, optionError("platform source", value, "%q names more than one platform: give one directory per platform", value)
		}
		ps, err := ParsePlatforms([]string{p})
		var oe *OptionError
		if errors.As(err, &oe) {
			return nil, optionError("platform source", value, "%q: platform %s", value, oe.Reason)
		} else if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, optionError("platform source", value, "%q names no platform: use os/arch[/variant]=DIRECTORY", value)
		}
		key := ps[0].String()
		if seen[key] {
			return nil, optionError("platform source", value, "platform %q has two directories: give each platform one", key)
		}
		seen[key] = true
		out = append(out, PlatformSource{Platform: ps[0], Dir: dir})
	}
	return out, nil
}

// BuildPlatforms packs one directory per platform into an image index:
// each platform's manifest has its own layers (from its own directory) and
// a config naming its os and architecture, where Build gives every
// platform the same layers. It is the shape of an image that carries a
// program compiled for each platform.
//
// Every option applies to each platform's directory as Build applies it
// to one (WithPlatforms is replaced by each source's platform). The
// timestamp is decided once, from the first directory (see
// WithSourceDateEpoch), and the index carries that directory's
// annotations, so the index digest depends only on the directories'
// contents, the platforms and their order, and the options. One source
// gives a single manifest, as WithPlatforms does with one platform.
func BuildPlatforms(ctx context.Context, sources []PlatformSource, opts ...Option) (_ *Result, err error) {
	if len(sources) == 0 {
		return nil, optionError("platform source", "", "list is empty: give at least one platform and its directory")
	}
	seen := map[string]bool{}
	for _, s := range sources {
		key := s.Platform.String()
		if s.Platform.OS == "" || s.Platform.Architecture == "" {
			return nil, optionError("platform source", s.String(), "%q has no os or architecture", s.String())
		}
		if seen[key] {
			return nil, optionError("platform source", s.String(), "platform %q has two directories: give each platform one", key)
		}
		seen[key] = true
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	res := &Result{workDir: o.hooks.WorkDir}
	if res.workDir == "" {
		// One work directory for every platform: Close removes it.
		if res.workDir, err = os.MkdirTemp("", "assetpack-build-*"); err != nil {
			return nil, fmt.Errorf("creating a work directory: %w", err)
		}
		res.ownWorkDir = true
	}
	var parts []*Result
	defer func() {
		if err != nil {
			for _, p := range parts {
				p.Close()
			}
			res.Close()
		}
	}()
	h := o.hooks
	h.WorkDir = res.workDir
	// The platforms are built one after the other, each with the jobs of
	// the options: a build is already parallel across its layers.
	var imgs []*image
	var platforms []v1.Platform
	seenLayer := map[v1.Hash]bool{}
	for i, s := range sources {
		popts := append(append([]Option(nil), opts...), WithPlatforms(s.Platform), WithHooks(h))
		if i > 0 {
			// The first directory decided the timestamp (git or the epoch).
			popts = append(popts, WithSourceDateEpoch(parts[0].Created))
		}
		p, err := Build(ctx, s.Dir, popts...)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		img, ok := p.Image.(*image)
		if !ok {
			return nil, fmt.Errorf("building %q for %s: not a single image", s.Dir, s.Platform.String())
		}
		if i > 0 {
			// Rewrite the manifest with the first directory's annotations,
			// so that every manifest and the index agree.
			if img, err = makeImage(s.Platform, parts[0].Created, o.labels, parts[0].Annotations, p.Layers); err != nil {
				return nil, err
			}
		}
		imgs = append(imgs, img)
		platforms = append(platforms, s.Platform)
		res.Files += p.Files
		res.FileBytes += p.FileBytes
		if res.CacheError == nil {
			res.CacheError = p.CacheError
		}
		for _, l := range p.Layers {
			// Platforms with identical content share a blob: list it once.
			if !seenLayer[l.digest] {
				seenLayer[l.digest] = true
				res.Layers = append(res.Layers, l)
			}
		}
	}
	first := parts[0]
	res.Created, res.Annotations, res.Prefix, res.Platforms = first.Created, first.Annotations, first.Prefix, platforms
	res.Compression = res.Layers[0].compression
	for _, l := range res.Layers[1:] {
		if l.compression != res.Compression {
			res.Compression = Auto
		}
	}
	if len(imgs) == 1 {
		res.Image = imgs[0]
		res.MediaType = types.OCIManifestSchema1
		res.Size = int64(len(imgs[0].manifest))
		res.Digest, err = res.Image.Digest()
		return res, err
	}
	idx, err := makeIndex(platforms, imgs, first.Annotations)
	if err != nil {
		return nil, err
	}
	res.Index = idx
	res.MediaType = types.OCIImageIndex
	res.Size = int64(len(idx.raw))
	res.Digest, err = idx.Digest()
	return res, err
}
