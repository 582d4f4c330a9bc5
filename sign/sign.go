// Package sign is where published images get signed and verified. The
// Signer and Verifier interfaces are the seam the CLI will use; the cosign
// implementation (key files, KMS, keyless) lives in sign/cosign, the only
// package allowed to import sigstore. Neither exists yet: signing is open
// work (the "Sign and verify with cosign" issue), and nothing in assetpack
// claims to sign today.
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
