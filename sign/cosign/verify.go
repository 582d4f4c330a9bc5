package cosign

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"

	"github.com/assetpack/assetpack/sign"
)

// Verifier checks cosign signatures and attestations.
type Verifier struct {
	co *sigcosign.CheckOpts
}

var _ sign.Verifier = (*Verifier)(nil)

// VerifyOptions shape a Verifier.
type VerifyOptions struct {
	// KeyRef is a public key file, a private key's KMS URI, or "" for keyless.
	KeyRef string
	// Identity and Issuer (exact, or regular expressions with the *Regexp
	// fields) are required for keyless verification.
	Identity, IdentityRegexp, Issuer, IssuerRegexp string
	// TrustedRoot is a Sigstore trusted_root.json: the Fulcio roots and the
	// Rekor keys to check certificates and log proofs offline. Required for
	// keyless signatures and for log proofs; never fetched from the network.
	TrustedRoot string
	// IgnoreTlog accepts signatures without a transparency-log proof.
	IgnoreTlog bool
}

// NewVerifier prepares a check.
func NewVerifier(ctx context.Context, vo VerifyOptions, opts ...Option) (*Verifier, error) {
	o := makeOptions(opts)
	co := &sigcosign.CheckOpts{
		RegistryClientOpts: o.ociRemote(),
		ClaimVerifier:      sigcosign.SimpleClaimVerifier,
		IgnoreTlog:         vo.IgnoreTlog,
		IgnoreSCT:          vo.IgnoreTlog,
	}
	if vo.TrustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(vo.TrustedRoot)
		if err != nil {
			return nil, fmt.Errorf("%w: reading trusted root %q: %v", ErrKey, vo.TrustedRoot, err)
		}
		co.TrustedMaterial = tr
	}
	switch {
	case vo.KeyRef != "":
		if strings.Contains(vo.KeyRef, "://") && !isKMS(vo.KeyRef) {
			return nil, fmt.Errorf("%w: %q: unsupported key scheme; use a public key file or one of %s", ErrKey, redactRef(vo.KeyRef), strings.Join(KMSSchemes, ", "))
		}
		v, err := loadVerifier(ctx, vo.KeyRef)
		if err != nil {
			return nil, fmt.Errorf("%w: loading the public key %q: %v", ErrKey, redactRef(vo.KeyRef), err)
		}
		co.SigVerifier = v
	default:
		if (vo.Identity == "" && vo.IdentityRegexp == "") || (vo.Issuer == "" && vo.IssuerRegexp == "") {
			return nil, fmt.Errorf("%w: without a key, verification is keyless and needs the signer's identity and issuer (Identity or IdentityRegexp, and Issuer or IssuerRegexp)", ErrKey)
		}
		if vo.TrustedRoot == "" {
			return nil, fmt.Errorf("%w: keyless %w (the Fulcio roots and Rekor keys): set TrustedRoot to a trusted_root.json (assetpack never fetches them from the network by itself)", ErrKey, ErrNoTrustedRoot)
		}
		co.Identities = []sigcosign.Identity{{Subject: vo.Identity, SubjectRegExp: vo.IdentityRegexp, Issuer: vo.Issuer, IssuerRegExp: vo.IssuerRegexp}}
	}
	if !vo.IgnoreTlog && co.TrustedMaterial == nil {
		return nil, fmt.Errorf("%w: checking the transparency-log proof: %w (the Rekor keys): set TrustedRoot to a trusted_root.json, or IgnoreTlog for signatures made without a log entry", ErrKey, ErrNoTrustedRoot)
	}
	return &Verifier{co: co}, nil
}

// Verify checks that ref has at least one valid signature.
func (v *Verifier) Verify(ctx context.Context, ref name.Digest) error {
	_, err := v.VerifyCount(ctx, ref)
	return err
}

// VerifyCount checks ref's signatures and returns how many are valid.
func (v *Verifier) VerifyCount(ctx context.Context, ref name.Digest) (int, error) {
	sigs, _, err := sigcosign.VerifyImageSignatures(ctx, ref, v.co)
	if err != nil {
		return 0, explainVerify(ref.String(), err)
	}
	return len(sigs), nil
}

// VerifyAttestation checks that ref has a valid attestation of
// predicateType and returns its predicate (JSON).
func (v *Verifier) VerifyAttestation(ctx context.Context, ref name.Digest, predicateType string) ([]byte, error) {
	co := *v.co
	co.ClaimVerifier = sigcosign.IntotoSubjectClaimVerifier
	atts, _, err := sigcosign.VerifyImageAttestations(ctx, ref, &co)
	if err != nil {
		return nil, explainVerify(ref.String(), err)
	}
	for _, a := range atts {
		payload, err := a.Payload()
		if err != nil {
			continue
		}
		var env struct {
			Payload string `json:"payload"`
		}
		if json.Unmarshal(payload, &env) != nil {
			continue
		}
		stmt, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			continue
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if json.Unmarshal(stmt, &st) == nil && st.PredicateType == predicateType {
			return st.Predicate, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has signed attestations, but none of type %s", ErrNoSignature, ref, predicateType)
}

func explainVerify(ref string, err error) error {
	var noSigs *sigcosign.ErrNoSignaturesFound
	var noMatch *sigcosign.ErrNoMatchingSignatures
	var noAtts *sigcosign.ErrNoMatchingAttestations
	switch {
	case errors.As(err, &noSigs):
		return fmt.Errorf("%w: %s is not signed (no cosign signature found for this digest)", ErrNoSignature, ref)
	case errors.As(err, &noMatch), errors.As(err, &noAtts):
		return fmt.Errorf("%w: %s: no signature matches this key or identity: %v", ErrNoSignature, ref, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrNoSignature, ref, err)
}

// loadVerifier opens a KMS key or a PEM public key file (see loadKeyFile for
// why not cosign's PublicKeyFromKeyRef).
func loadVerifier(ctx context.Context, keyRef string) (signature.Verifier, error) {
	if isKMS(keyRef) {
		return kms.Get(ctx, keyRef, crypto.SHA256)
	}
	raw, err := os.ReadFile(keyRef)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("pem to public key: %w", err)
	}
	return signature.LoadVerifier(pub, crypto.SHA256)
}
