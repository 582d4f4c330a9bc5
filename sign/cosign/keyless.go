package cosign

import (
	"context"
	"crypto"
	"fmt"
	"net/url"
	"strings"

	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/oauthflow"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/oauth2"
)

// Public-good Sigstore endpoints, the defaults of keyless signing.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// KeylessOptions configure keyless signing: an ephemeral key, a Fulcio
// certificate binding it to the OIDC identity of IDToken, and a Rekor entry.
type KeylessOptions struct {
	// IDToken is the OIDC token (sign.FindIDToken finds one in CI systems).
	IDToken string
	// FulcioURL defaults to DefaultFulcioURL; RekorURL to DefaultRekorURL.
	FulcioURL, RekorURL string
	// NoTlog records nothing in Rekor: the bundle's proof of when it was
	// signed is then a signed timestamp, so a timestamp authority is
	// required (WithTimestampAuthority), and the legacy format, which
	// cosign verifies keylessly only with a log entry, cannot be written.
	NoTlog bool
}

// NewKeylessSigner gets a Fulcio certificate for an ephemeral key. The
// certificate is short-lived, so a keyless signature always comes with
// the proof of when it was made: a Rekor entry (the default) and/or a
// signed timestamp (WithTimestampAuthority).
func NewKeylessSigner(ctx context.Context, ko KeylessOptions, opts ...Option) (*Signer, error) {
	if ko.IDToken == "" {
		return nil, fmt.Errorf("%w: %w: set KeylessOptions.IDToken (sign.DiscoverIDToken finds one in the environment of CI systems)", ErrKey, ErrNoIDToken)
	}
	o := makeOptions(opts)
	if err := o.check(); err != nil {
		return nil, err
	}
	if ko.NoTlog && o.tsaURL == "" {
		return nil, fmt.Errorf("%w: keyless signing without a transparency log needs a timestamp authority", ErrInvalid)
	}
	if ko.NoTlog && hasLegacy(o.format) {
		return nil, fmt.Errorf("%w: keyless signatures in the legacy format need a transparency log", ErrInvalid)
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
	cert, err := fulcioCert(sv, ko.FulcioURL, ko.IDToken)
	if err != nil {
		return nil, fmt.Errorf("getting a certificate from Fulcio (%s): %w", ko.FulcioURL, err)
	}
	if !ko.NoTlog {
		o.tlogUpload, o.rekorURL = true, ko.RekorURL
	}
	return &Signer{sv: sv, cert: cert.CertPEM, chain: cert.ChainPEM, o: o}, nil
}

// userAgent names assetpack to Fulcio and Rekor, as publish does to registries.
const userAgent = "assetpack"

// fulcioCert asks Fulcio for a certificate of sv's public key for the
// identity in idToken, proving possession of the key by signing the token's
// subject. This is what cosign's CLI does (cmd/cosign/cli/fulcio, "token"
// flow), written against Fulcio's client library: the CLI packages bring
// Kubernetes clients and every cloud's registry helpers, whose package
// initialization alone cost every assetpack command ~30 ms and 25 MB of
// resident memory.
func fulcioCert(sv signature.SignerVerifier, fulcioURL, idToken string) (*api.CertificateResponse, error) {
	u, err := url.Parse(fulcioURL)
	if err != nil {
		return nil, err
	}
	// The token is only parsed, not verified, to find its subject: Fulcio
	// verifies it.
	tok, err := (&oauthflow.StaticTokenGetter{RawToken: idToken}).GetIDToken(nil, oauth2.Config{})
	if err != nil {
		return nil, fmt.Errorf("reading the identity token: %w", err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, err
	}
	proof, err := sv.SignMessage(strings.NewReader(tok.Subject))
	if err != nil {
		return nil, err
	}
	return api.NewClient(u, api.WithUserAgent(userAgent)).SigningCert(api.CertificateRequest{
		PublicKey:          api.Key{Content: pubPEM},
		SignedEmailAddress: proof,
	}, tok.RawString)
}
