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
