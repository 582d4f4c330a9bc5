// Package sign holds what signing needs without sigstore: the Signer,
// Attester and Verifier interfaces, the signature formats, and OIDC token
// discovery for keyless signing. The cosign implementation (key files, KMS,
// keyless) lives in sign/cosign, the only package that imports sigstore.
package sign

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// StatementAttester signs an in-toto statement that the caller made (package
// attest makes assetpack's: the SBOM and the provenance) as it is, byte for
// byte, and attaches it to the image it is about, in the format asked for
// ("" is the attester's own). The statement's subject must name ref's
// digest.
type StatementAttester interface {
	AttestStatement(ctx context.Context, ref name.Digest, f Format, statement []byte) (*Attestation, error)
}

// Attestation is what a StatementAttester attached.
type Attestation struct {
	// Subject is the image the statement is about.
	Subject name.Digest
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Statement is the sha256 digest of the statement's bytes: what the
	// DSSE envelope signs. The same statement has the same digest; the
	// envelope, its signature and the referrer around it differ each time.
	Statement v1.Hash
	// Bundle is the Sigstore bundle referrer's manifest (FormatBundle and
	// FormatBoth), else nil.
	Bundle *name.Digest
	// Legacy is the manifest at the legacy sha256-<hex>.att tag after the
	// write (FormatLegacy and FormatBoth), else nil.
	Legacy *name.Digest
}
