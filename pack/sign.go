package pack

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// signAll signs (and attests) d and, when recursive, every platform
// manifest of an index; it records what it did in res.
func signAll(ctx context.Context, s *Sign, d name.Digest, art publish.Artifact, res *Result) error {
	var files *sign.FilesPredicate
	attester, _ := s.Signer.(sign.Attester)
	if s.AttestFiles {
		if attester == nil {
			return specErr("Sign.AttestFiles", "the signer %T cannot attest", s.Signer)
		}
		var err error
		if files, err = filesOf(d, art); err != nil {
			return err
		}
	}
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
		if files != nil {
			if err := attestOne(ctx, s, attester, t, sign.FilesPredicateType, files); err != nil {
				return err
			}
			res.Attested = append(res.Attested, t)
		}
	}
	return nil
}

// checkFormat checks Sign.Format against what the signer can do.
func checkFormat(s *Sign) error {
	switch s.Format {
	case "":
		return nil
	case sign.FormatBundle, sign.FormatLegacy, sign.FormatBoth:
	default:
		return specErr("Sign.Format", "%q is not a signature format: want %s, %s or %s", s.Format, sign.FormatBundle, sign.FormatLegacy, sign.FormatBoth)
	}
	if _, ok := s.Signer.(sign.FormatSigner); !ok {
		return specErr("Sign.Format", "the signer %T writes one format only", s.Signer)
	}
	if _, ok := s.Signer.(sign.FormatAttester); s.AttestFiles && !ok {
		return specErr("Sign.Format", "the signer %T attests in one format only", s.Signer)
	}
	return nil
}

// signOne signs t in s.Format (checked by checkFormat).
func signOne(ctx context.Context, s *Sign, t name.Digest) error {
	if fs, ok := s.Signer.(sign.FormatSigner); ok && s.Format != "" {
		return fs.SignFormat(ctx, t, s.Format)
	}
	return s.Signer.Sign(ctx, t)
}

// attestOne attests t in s.Format.
func attestOne(ctx context.Context, s *Sign, a sign.Attester, t name.Digest, predicateType string, predicate any) error {
	if fa, ok := s.Signer.(sign.FormatAttester); ok && s.Format != "" {
		return fa.AttestFormat(ctx, t, s.Format, predicateType, predicate)
	}
	return a.Attest(ctx, t, predicateType, predicate)
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

// filesOf lists the files of an image, or of an index's first image (the
// platforms of an assetpack index share their layers).
func filesOf(d name.Digest, art publish.Artifact) (*sign.FilesPredicate, error) {
	switch a := art.(type) {
	case v1.Image:
		return sign.Files(a)
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading the index %s to list its files: %w", d, err)
		}
		if len(im.Manifests) == 0 {
			return nil, fmt.Errorf("listing the files of %s: the index has no manifests", d)
		}
		img, err := a.Image(im.Manifests[0].Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s of the index %s: %w", im.Manifests[0].Digest, d, err)
		}
		return sign.Files(img)
	}
	return nil, fmt.Errorf("listing the files of %s: a %T is neither an image nor an index", d, art)
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
