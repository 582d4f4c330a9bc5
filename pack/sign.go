package pack

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// signAll signs d and, when recursive, every platform manifest of an
// index, and attaches the statements asked for to each; it records what it
// did in res. files describes the image's files and layers (nil when no
// statement is asked for).
func signAll(ctx context.Context, s *Sign, d name.Digest, art publish.Artifact, files *attest.Image, build *attest.Build, res *Result) error {
	targets := []name.Digest{d}
	if s.Recursive {
		kids, err := childManifests(d, art)
		if err != nil {
			return err
		}
		targets = append(targets, kids...)
	}
	for _, t := range targets {
		if err := signOne(ctx, s, t); err != nil {
			return err
		}
		res.Signed = append(res.Signed, t)
		if files == nil {
			continue
		}
		sts, err := statements(s, t, art, files, build)
		if err != nil {
			return err
		}
		for _, st := range sts {
			a, err := s.Signer.(sign.StatementAttester).AttestStatement(ctx, t, s.Format, st)
			if err != nil {
				return err
			}
			res.Attestations = append(res.Attestations, *a)
		}
	}
	return nil
}

// attests reports whether s asks for statements.
func (s *Sign) attests() bool { return s.SBOM != "" || s.Provenance }

// checkSign checks Sign against what the signer can do and what Run was
// asked for (a build or a Reference).
func checkSign(s *Sign, reference bool) error {
	if s.Signer == nil {
		return specErr("Sign.Signer", "no signer given")
	}
	switch s.Format {
	case "":
	case sign.FormatBundle, sign.FormatLegacy, sign.FormatBoth:
		if _, ok := s.Signer.(sign.FormatSigner); !ok {
			return specErr("Sign.Format", "the signer %T writes one format only", s.Signer)
		}
	default:
		return specErr("Sign.Format", "%q is not a signature format: want %s, %s or %s", s.Format, sign.FormatBundle, sign.FormatLegacy, sign.FormatBoth)
	}
	switch s.SBOM {
	case "", attest.SPDX, attest.CycloneDX:
	default:
		return specErr("Sign.SBOM", "%q is not an SBOM format: want %s or %s", s.SBOM, attest.SPDX, attest.CycloneDX)
	}
	if s.Provenance && reference {
		return specErr("Sign.Provenance", "a provenance describes a build, and the Reference was not built here: attest its SBOM only")
	}
	if _, ok := s.Signer.(sign.StatementAttester); s.attests() && !ok {
		field := "Sign.SBOM"
		if s.SBOM == "" {
			field = "Sign.Provenance"
		}
		return specErr(field, "the signer %T cannot attest statements (it is not a sign.StatementAttester)", s.Signer)
	}
	return nil
}

// signOne signs t in s.Format (checked by checkSign).
func signOne(ctx context.Context, s *Sign, t name.Digest) error {
	if fs, ok := s.Signer.(sign.FormatSigner); ok && s.Format != "" {
		return fs.SignFormat(ctx, t, s.Format)
	}
	return s.Signer.Sign(ctx, t)
}

// statements makes the in-toto statements s asks for about t, one of the
// digests signed (the image, an index or one of its platform manifests):
// the SBOM, then the provenance. files holds the image's layers and, for
// an SBOM, its files (an index's platforms share them).
func statements(s *Sign, t name.Digest, art publish.Artifact, files *attest.Image, build *attest.Build) ([][]byte, error) {
	img := *files
	img.Name = t.Context().Name()
	var err error
	if img.Digest, err = v1.NewHash(t.DigestStr()); err != nil {
		return nil, err
	}
	if img.Annotations, err = annotationsOf(art, img.Digest); err != nil {
		return nil, err
	}
	opts := []attest.Option{attest.WithCommit(s.Commit)}
	if s.Version != "" {
		opts = append(opts, attest.WithVersion(s.Version))
	}
	var out [][]byte
	if s.SBOM != "" {
		sbom, err := attest.SBOM(&img, s.SBOM, opts...)
		if err != nil {
			return nil, fmt.Errorf("making the SBOM of %s: %w", t, err)
		}
		st, err := attest.Statement(img.Name, img.Digest, s.SBOM.PredicateType(), sbom)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	if s.Provenance && build != nil {
		p, err := attest.Provenance(&img, *build, opts...)
		if err != nil {
			return nil, fmt.Errorf("making the provenance of %s: %w", t, err)
		}
		st, err := attest.Statement(img.Name, img.Digest, attest.ProvenancePredicateType, p)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// annotationsOf returns the annotations of the manifest d: art itself, or
// one of an index's manifests.
func annotationsOf(art publish.Artifact, d v1.Hash) (map[string]string, error) {
	switch a := art.(type) {
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading the index: %w", err)
		}
		if own, _ := a.Digest(); own == d {
			return im.Annotations, nil
		}
		img, err := a.Image(d)
		if err != nil {
			return nil, fmt.Errorf("reading %s of the index: %w", d, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s of the index: %w", d, err)
		}
		return m.Annotations, nil
	case v1.Image:
		m, err := a.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading the manifest: %w", err)
		}
		return m.Annotations, nil
	}
	return nil, fmt.Errorf("a %T is neither an image nor an index", art)
}

// childManifests lists the platform manifests of an index (nil for an image).
func childManifests(d name.Digest, art publish.Artifact) ([]name.Digest, error) {
	idx, ok := art.(v1.ImageIndex)
	if !ok {
		return nil, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index %s: %w", d, err)
	}
	var out []name.Digest
	for _, m := range im.Manifests {
		out = append(out, d.Context().Digest(m.Digest.String()))
	}
	return out, nil
}

// firstImage is art itself, or the first image of an index (the platforms
// of an assetpack index share their layers).
func firstImage(d v1.Hash, art publish.Artifact) (v1.Image, error) {
	switch a := art.(type) {
	case v1.Image:
		return a, nil
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading the index %s: %w", d, err)
		}
		if len(im.Manifests) == 0 {
			return nil, fmt.Errorf("describing %s: the index has no manifests", d)
		}
		img, err := a.Image(im.Manifests[0].Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s of the index %s: %w", im.Manifests[0].Digest, d, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("describing %s: a %T is neither an image nor an index", d, art)
}

// describe reads what the statements say of art's (first) image: its
// created time and layers and, when withFiles, every file with its hashes
// (attest.ReadImage, which reads every layer).
func describe(ctx context.Context, d v1.Hash, art publish.Artifact, withFiles bool) (*attest.Image, error) {
	img, err := firstImage(d, art)
	if err != nil {
		return nil, err
	}
	if withFiles {
		ai, err := attest.ReadImage(ctxImage{Image: img, ctx: ctx})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("listing the files of %s for its SBOM: %w", d, err)
		}
		return ai, nil
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", d, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing the layers of %s: %w", d, err)
	}
	ai := &attest.Image{Created: cfg.Created.UTC()}
	for i, l := range layers {
		var al attest.Layer
		if al.Digest, err = l.Digest(); err == nil {
			if al.DiffID, err = l.DiffID(); err == nil {
				if al.Size, err = l.Size(); err == nil {
					al.MediaType, err = l.MediaType()
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer %d of %s: %w", i+1, d, err)
		}
		ai.Layers = append(ai.Layers, al)
	}
	return ai, nil
}

// buildParameters are the provenance's external parameters: the options
// the build was given, with the builder's defaults named.
func buildParameters(spec Spec, platforms []v1.Platform) *attest.Build {
	im := spec.Image
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	var sources []string
	for _, ps := range spec.PlatformSources {
		sources = append(sources, ps.String())
	}
	return &attest.Build{
		Source:          spec.Source,
		PlatformSources: sources,
		Prefix:          strings.Trim(im.Prefix, "/"),
		Platforms:       platforms,
		Compression:     or(string(im.Compression), string(builder.Auto)),
		Layers:          or(string(im.Layers), string(builder.LayersAuto)),
		Symlinks:        or(string(im.Symlinks), string(builder.SymlinksPreserve)),
		Excludes:        im.Excludes,
		SourceDateEpoch: im.SourceDateEpoch,
		Git:             !im.NoGit,
		AllowEmpty:      im.AllowEmpty,
		Annotations:     im.Annotations,
		Labels:          im.Labels,
	}
}

// fetch reads the image or index at d from its registry.
func fetch(ctx context.Context, reg *publish.Registry, d name.Digest) (publish.Artifact, error) {
	desc, err := remote.Get(d, reg.RemoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	var art publish.Artifact
	if desc.MediaType.IsIndex() {
		art, err = desc.ImageIndex()
	} else {
		art, err = desc.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	return art, nil
}

// pending is the description of a built image being read in the
// background (describe), while the image is written and pushed.
type pending struct {
	done   chan struct{}
	img    *attest.Image
	err    error
	cancel context.CancelFunc
}

func startDescribe(ctx context.Context, d v1.Hash, art publish.Artifact, withFiles bool) *pending {
	ctx, cancel := context.WithCancel(ctx)
	p := &pending{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.img, p.err = describe(ctx, d, art, withFiles)
	}()
	return p
}

// wait returns the description once it is read.
func (p *pending) wait() (*attest.Image, error) {
	<-p.done
	return p.img, p.err
}

// stop cancels the reading, if it is still going on, and waits for it to
// end: nothing reads the layers after Run returns.
func (p *pending) stop() {
	p.cancel()
	<-p.done
}

// ctxImage is an image whose layers stop reading once ctx is done.
type ctxImage struct {
	v1.Image
	ctx context.Context
}

func (i ctxImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for j, l := range ls {
		out[j] = ctxLayer{Layer: l, ctx: i.ctx}
	}
	return out, nil
}

type ctxLayer struct {
	v1.Layer
	ctx context.Context
}

func (l ctxLayer) Uncompressed() (io.ReadCloser, error) {
	if err := l.ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	return ctxReadCloser{ReadCloser: rc, ctx: l.ctx}, nil
}

type ctxReadCloser struct {
	io.ReadCloser
	ctx context.Context
}

func (r ctxReadCloser) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}
