// Package sign holds what signing needs without sigstore: the Signer and
// Verifier interfaces, the file-list attestation predicate, and OIDC token
// discovery for keyless signing. The cosign implementation (key files, KMS,
// keyless) lives in sign/cosign, the only package that imports sigstore.
package sign

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
)

// Signer signs the image or index at a digest. It takes a digest, never a
// tag: a tag may move between push and sign.
type Signer interface {
	Sign(ctx context.Context, ref name.Digest) error
}

// Verifier checks the signatures attached to the image at a digest.
type Verifier interface {
	Verify(ctx context.Context, ref name.Digest) error
}

// Attester attaches a signed in-toto attestation (predicateType, predicate)
// to the image at a digest.
type Attester interface {
	Attest(ctx context.Context, ref name.Digest, predicateType string, predicate any) error
}

// Format is how a signature or attestation is stored in the registry.
type Format string

// Formats, as cosign writes them.
const (
	// FormatBundle: a Sigstore bundle attached as an OCI 1.1 referrer of the
	// image (cosign v3's default).
	FormatBundle Format = "bundle"
	// FormatLegacy: the sha256-<hex>.sig tag (.att for attestations),
	// cosign v2's default.
	FormatLegacy Format = "legacy"
	// FormatBoth: both.
	FormatBoth Format = "both"
)

// FormatSigner is a Signer that writes in the format asked for.
type FormatSigner interface {
	SignFormat(ctx context.Context, ref name.Digest, f Format) error
}

// FormatAttester is an Attester that writes in the format asked for.
type FormatAttester interface {
	AttestFormat(ctx context.Context, ref name.Digest, f Format, predicateType string, predicate any) error
}
