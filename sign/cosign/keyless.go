package cosign

import (
	"context"
	"crypto"
	"fmt"

	"github.com/sigstore/cosign/v2/cmd/cosign/cli/fulcio"
	cliopts "github.com/sigstore/cosign/v2/cmd/cosign/cli/options"
	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Public-good Sigstore endpoints, the defaults of keyless signing.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// KeylessOptions configure keyless signing: an ephemeral key, a Fulcio
// certificate binding it to the OIDC identity of IDToken, and a Rekor entry.
type KeylessOptions struct {
	// IDToken is the OIDC token (see sign.DiscoverIDToken for GitHub Actions).
	IDToken string
	// FulcioURL defaults to DefaultFulcioURL; RekorURL to DefaultRekorURL.
	FulcioURL, RekorURL string
}

// NewKeylessSigner gets a Fulcio certificate for an ephemeral key. Keyless
// signatures are always recorded in Rekor (the certificate is short-lived).
func NewKeylessSigner(ctx context.Context, ko KeylessOptions, opts ...Option) (*Signer, error) {
	if ko.IDToken == "" {
		return nil, fmt.Errorf("%w: keyless signing needs an OIDC identity token: run in GitHub Actions with 'permissions: id-token: write', or pass --identity-token (or set SIGSTORE_ID_TOKEN)", ErrKey)
	}
	if ko.FulcioURL == "" {
		ko.FulcioURL = DefaultFulcioURL
	}
	if ko.RekorURL == "" {
		ko.RekorURL = DefaultRekorURL
	}
	priv, err := sigcosign.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	// cosign's Fulcio client is configured through its KeyOpts; it is built
	// here only, so assetpack's own API never exposes cosign's CLI structs.
	fs, err := fulcio.NewSigner(ctx, cliopts.KeyOpts{
		FulcioURL:        ko.FulcioURL,
		IDToken:          ko.IDToken,
		FulcioAuthFlow:   "token",
		SkipConfirmation: true,
	}, sv)
	if err != nil {
		return nil, fmt.Errorf("getting a certificate from Fulcio (%s): %w", ko.FulcioURL, err)
	}
	o := makeOptions(append(opts, WithTlogUpload(ko.RekorURL)))
	return &Signer{sv: fs, cert: fs.Cert, chain: fs.Chain, o: o}, nil
}
