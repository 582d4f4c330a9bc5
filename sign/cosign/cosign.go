// Package cosign signs and verifies images in the formats of the cosign
// CLI: by default a Sigstore bundle v0.3 attached as an OCI 1.1 referrer
// (cosign v3's format, read by Flux, Kyverno and sigstore's
// policy-controller), and on request the legacy "sha256-<hex>.sig"
// signature tag and ".att" attestation tag (read by cosign v2 and v3
// alike), or both. It is the only assetpack package that imports sigstore:
// sigstore-go makes and verifies bundles, cosign v2's public packages the
// legacy signatures. Keys are cosign key files, KMS URIs (awskms://,
// gcpkms://, azurekms://, hashivault://) or, keyless, a Fulcio certificate
// for an OIDC identity. Every write goes through publish's upload engine.
package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	rekor "github.com/sigstore/rekor/pkg/client"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	// KMS providers, as in the cosign CLI: any KMS URI cosign supports works.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// Errors callers branch on with errors.Is.
var (
	// ErrKey: a key that is missing, malformed, of an unknown scheme, or
	// that the password does not open.
	ErrKey = errors.New("signing key problem")
	// ErrNoIDToken: keyless signing was asked for without an OIDC identity
	// token (KeylessOptions.IDToken). It is sign.ErrNoIDToken, and comes
	// with ErrKey.
	ErrNoIDToken = sign.ErrNoIDToken
	// ErrNoTrustedRoot: the Sigstore trusted root that keyless verification
	// (or a required log entry) needs could not be fetched; give one as a
	// file (VerifyOptions.TrustedRoot).
	ErrNoTrustedRoot = errors.New("no Sigstore trusted root")
	// ErrNoSignature: verification found no valid signature (the image is
	// unsigned, or signed by another key or identity, or its signatures do
	// not verify). An unreachable registry is not this error.
	ErrNoSignature = errors.New("no valid signature")
	// ErrNoAttestation: the image has no valid attestation of the
	// predicate type asked for (Verifier.VerifyAttestation). It matches
	// ErrNoSignature too: a missing attestation fails verification the
	// same way.
	ErrNoAttestation error = noAttestation{}
	// ErrInvalid: an option value that cannot work, such as an unknown
	// signature format.
	ErrInvalid = errors.New("invalid signing option")
)

// Format is how signatures and attestations are stored (sign.Format).
type Format = sign.Format

// Signature formats.
const (
	// Bundle is a Sigstore bundle v0.3 attached as an OCI 1.1 referrer
	// (referrers API, or the referrers tag schema): cosign v3's default.
	Bundle = sign.FormatBundle
	// Legacy is the sha256-<hex>.sig tag (.att for attestations): cosign
	// v2's default, read by older verifiers.
	Legacy = sign.FormatLegacy
	// Both writes both.
	Both = sign.FormatBoth
)

// ParseFormat parses "bundle", "legacy" or "both" ("" is Bundle).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return Bundle, nil
	case Bundle, Legacy, Both:
		return f, nil
	}
	return "", fmt.Errorf("%w: signature format %q: want bundle, legacy or both", ErrInvalid, s)
}

func hasBundle(f Format) bool { return f == Bundle || f == Both || f == "" }
func hasLegacy(f Format) bool { return f == Legacy || f == Both }

// KMSSchemes are the key reference schemes handed to a KMS provider.
var KMSSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}

// PassFunc returns the password of an encrypted cosign key.
type PassFunc func() ([]byte, error)

// Option configures a Signer or Verifier.
type Option func(*options)

type options struct {
	remote     []remote.Option
	registry   *publish.Registry
	format     Format
	tlogUpload bool
	rekorURL   string
	tsaURL     string
	ignoreTlog bool
	now        func() time.Time
}

// WithRegistry sets how registries are reached: the publish.Registry that
// pushed the image (credentials, TLS policy, retries). Signatures are
// written through it, and read with its go-containerregistry options. The
// default is publish.NewRegistry()'s.
func WithRegistry(r *publish.Registry) Option {
	return func(op *options) { op.registry = r }
}

// WithRemoteOptions adds go-containerregistry options to the reads made
// through cosign's packages (the legacy signature tags).
//
// Deprecated: use WithRegistry, whose options those reads use.
func WithRemoteOptions(o ...remote.Option) Option {
	return func(op *options) { op.remote = append(op.remote, o...) }
}

// WithFormat sets the format signatures and attestations are written in.
// The default is Bundle.
func WithFormat(f Format) Option {
	return func(op *options) { op.format = f }
}

// WithTimestampAuthority asks the RFC 3161 timestamp authority at url (for
// example https://timestamp.sigstore.dev/api/v1/timestamp) for a signed
// timestamp of every bundle signature. The default is none.
func WithTimestampAuthority(url string) Option {
	return func(op *options) { op.tsaURL = url }
}

// WithTlogUpload uploads signatures to the Rekor transparency log. The
// default is false (air-gapped); keyless signing needs it.
func WithTlogUpload(rekorURL string) Option {
	return func(op *options) { op.tlogUpload, op.rekorURL = true, rekorURL }
}

// WithIgnoreTlog is VerifyOptions.IgnoreTlog: transparency-log entries
// are never checked.
func WithIgnoreTlog() Option {
	return func(op *options) { op.ignoreTlog = true }
}

func makeOptions(opts []Option) options {
	o := options{format: Bundle, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// reg is the registry signatures go through.
func (o *options) reg() (*publish.Registry, error) {
	if o.registry == nil {
		r, err := publish.NewRegistry()
		if err != nil {
			return nil, err
		}
		o.registry = r
	}
	return o.registry, nil
}

// ociRemote are the options of reads through cosign's packages.
func (o *options) ociRemote(ctx context.Context) []ociremote.Option {
	var ro []remote.Option
	if r, err := o.reg(); err == nil {
		ro = r.RemoteOptions(ctx)
	}
	return []ociremote.Option{ociremote.WithRemoteOptions(append(ro, o.remote...)...)}
}

// Signer signs digests with a key (file or KMS) or keylessly.
type Signer struct {
	sv      signature.SignerVerifier
	cert    []byte // keyless: the Fulcio certificate (PEM) and chain
	chain   []byte
	o       options
	keyRef  string
	closeFn func()
}

var (
	_ sign.Signer            = (*Signer)(nil)
	_ sign.Attester          = (*Signer)(nil)
	_ sign.FormatSigner      = (*Signer)(nil)
	_ sign.FormatAttester    = (*Signer)(nil)
	_ sign.StatementAttester = (*Signer)(nil)
)

// NewKeySigner loads a private key: a cosign key file (encrypted; pass
// supplies its password) or a KMS URI.
func NewKeySigner(ctx context.Context, keyRef string, pass PassFunc, opts ...Option) (*Signer, error) {
	if keyRef == "" {
		return nil, fmt.Errorf("%w: no key given", ErrKey)
	}
	o := makeOptions(opts)
	if err := o.check(); err != nil {
		return nil, err
	}
	if strings.Contains(keyRef, "://") && !isKMS(keyRef) {
		return nil, fmt.Errorf("%w: %q: unsupported key scheme; use a cosign key file or one of %s", ErrKey, redactRef(keyRef), strings.Join(KMSSchemes, ", "))
	}
	var sv signature.SignerVerifier
	var err error
	if isKMS(keyRef) {
		sv, err = kms.Get(ctx, keyRef, crypto.SHA256)
	} else {
		raw, rerr := os.ReadFile(keyRef)
		if errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: key file %q: %w; create one with GenerateKeyPair", ErrKey, keyRef, fs.ErrNotExist)
		}
		if rerr != nil {
			return nil, fmt.Errorf("%w: reading key file %q: %v", ErrKey, keyRef, rerr)
		}
		if !bytes.Contains(raw, []byte("PRIVATE KEY")) {
			return nil, fmt.Errorf("%w: %q is not a cosign private key (no PEM private key block); is it the .pub file?", ErrKey, keyRef)
		}
		sv, err = loadKeyFile(raw, pass)
	}
	if err != nil {
		return nil, keyError(keyRef, err)
	}
	return &Signer{sv: sv, o: o, keyRef: keyRef}, nil
}

// loadKeyFile opens an encrypted cosign private key. Keys are loaded here
// and with kms.Get rather than through cosign's
// pkg/signature.SignerVerifierFromKeyRef, which also reads Kubernetes
// secrets, GitLab variables and PKCS#11 tokens but links Kubernetes clients
// whose initialization slowed every assetpack command; assetpack takes only
// key files and the KMS schemes above.
func loadKeyFile(raw []byte, pass PassFunc) (signature.SignerVerifier, error) {
	if pass == nil {
		return nil, errors.New("no password")
	}
	pw, err := pass()
	if err != nil {
		return nil, err
	}
	return sigcosign.LoadPrivateKey(raw, pw, nil)
}

// publicKeyPEM is the PEM of a signer's public key.
func publicKeyPEM(sv signature.SignerVerifier) ([]byte, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}

func isKMS(ref string) bool {
	for _, s := range KMSSchemes {
		if strings.HasPrefix(ref, s) {
			return true
		}
	}
	return false
}

// redactRef keeps the scheme and host of a key reference, never a token.
func redactRef(ref string) string {
	if i := strings.Index(ref, "?"); i >= 0 {
		return ref[:i] + "?…"
	}
	return ref
}

// keyError explains key loading failures without echoing key material.
func keyError(keyRef string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "decrypt"):
		return fmt.Errorf("%w: cannot decrypt %q: the password does not open it (COSIGN_PASSWORD, or the prompt on a terminal), or it is not a cosign private key", ErrKey, keyRef)
	case strings.Contains(msg, "no password"):
		return fmt.Errorf("%w: %q is encrypted: set COSIGN_PASSWORD, or run on a terminal to be prompted", ErrKey, keyRef)
	case strings.Contains(msg, "PEM") || strings.Contains(msg, "pem") || strings.Contains(msg, "unsupported"):
		return fmt.Errorf("%w: %q is not a valid cosign private key", ErrKey, keyRef)
	}
	// Other errors (KMS) carry no key material.
	return fmt.Errorf("%w: loading %q: %v", ErrKey, redactRef(keyRef), err)
}

// PublicKeyPEM returns the signer's public key.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	return publicKeyPEM(s.sv)
}

// check reports options that cannot work.
func (o options) check() error {
	switch o.format {
	case Bundle, Legacy, Both:
		return nil
	}
	_, err := ParseFormat(string(o.format))
	return err
}

// checkFormat reports a format this signer cannot write.
func (s *Signer) checkFormat(f Format) error {
	switch f {
	case Bundle, Legacy, Both:
	default:
		_, err := ParseFormat(string(f))
		return err
	}
	if hasLegacy(f) && s.cert != nil && !s.o.tlogUpload {
		return fmt.Errorf("%w: keyless signatures in the legacy format need a transparency log", ErrInvalid)
	}
	return nil
}

// Sign signs ref (a digest, never a tag) in the signer's format: a
// Sigstore bundle referrer (the default), the legacy sha256-<hex>.sig tag,
// or both.
func (s *Signer) Sign(ctx context.Context, ref name.Digest) error {
	return s.SignFormat(ctx, ref, s.o.format)
}

// SignFormat signs ref in format f, whatever the signer's own (an empty f
// is the signer's).
func (s *Signer) SignFormat(ctx context.Context, ref name.Digest, f Format) error {
	if f == "" {
		f = s.o.format
	}
	if err := s.checkFormat(f); err != nil {
		return err
	}
	if hasLegacy(f) {
		if err := s.signLegacy(ctx, ref); err != nil {
			return err
		}
	}
	if hasBundle(f) {
		return s.signBundle(ctx, ref)
	}
	return nil
}

// signLegacy attaches a signature of the simple-signing payload for ref as
// the legacy sha256-<hex>.sig tag; a signature of the same payload by the
// same key is replaced.
func (s *Signer) signLegacy(ctx context.Context, ref name.Digest) error {
	payload, err := (&sigpayload.Cosign{Image: ref}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, err := s.sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	var sopts []static.Option
	if s.cert != nil {
		sopts = append(sopts, static.WithCertChain(s.cert, s.chain))
	}
	if s.o.tlogUpload {
		b, err := s.uploadTlog(ctx, raw, payload)
		if err != nil {
			return err
		}
		sopts = append(sopts, b)
	}
	sig, err := static.NewSignature(payload, b64, sopts...)
	if err != nil {
		return err
	}
	se, err := ociremote.SignedEntity(ref, s.o.ociRemote(ctx)...)
	if err != nil {
		return fmt.Errorf("reading %s to sign it: %w", ref, err)
	}
	newSE, err := mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(cremote.NewDupeDetector(s.sv)))
	if err != nil {
		return err
	}
	sigs, err := newSE.Signatures()
	if err != nil {
		return err
	}
	if _, err := s.pushLegacy(ctx, ref, sigs, ".sig"); err != nil {
		return fmt.Errorf("writing the signature of %s: %w", ref, err)
	}
	return nil
}

// pushLegacy pushes the image of legacy signatures or attestations to
// ref's sha256-<hex><suffix> tag, through the upload engine, and returns
// its digest.
func (s *Signer) pushLegacy(ctx context.Context, ref name.Digest, img v1.Image, suffix string) (name.Digest, error) {
	reg, err := s.o.reg()
	if err != nil {
		return name.Digest{}, err
	}
	tag := legacyTag(ref, suffix)
	res, err := reg.Push(ctx, img, []name.Tag{tag})
	if err != nil {
		return name.Digest{}, err
	}
	return tag.Context().Digest(res.Digest.String()), nil
}

// legacyTag is ref's cosign tag with suffix (".sig", ".att").
func legacyTag(ref name.Digest, suffix string) name.Tag {
	return ref.Context().Tag(strings.Replace(ref.DigestStr(), ":", "-", 1) + suffix)
}

// Attest attaches a signed in-toto statement about ref with the given
// predicate, in the signer's format: a Sigstore bundle referrer whose
// annotation dev.sigstore.bundle.predicateType is predicateType, and/or the
// legacy sha256-<hex>.att tag, where an earlier attestation of the same
// predicate type is replaced. The statement is attest.Statement's, an
// in-toto v1 Statement whose subject is ref's repository and digest.
func (s *Signer) Attest(ctx context.Context, ref name.Digest, predicateType string, predicate any) error {
	return s.AttestFormat(ctx, ref, s.o.format, predicateType, predicate)
}

// AttestFormat attests ref in format f, whatever the signer's own (an
// empty f is the signer's).
func (s *Signer) AttestFormat(ctx context.Context, ref name.Digest, f Format, predicateType string, predicate any) error {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return err
	}
	st, err := attest.Statement(ref.Context().Name(), h, predicateType, predicate)
	if err != nil {
		return err
	}
	_, err = s.AttestStatement(ctx, ref, f, st)
	return err
}

// AttestStatement signs statement, an in-toto statement (v1, or v0.1)
// whose subject names ref's digest, as it is: a DSSE envelope in a
// Sigstore bundle attached as a referrer (Bundle), and/or in the legacy
// sha256-<hex>.att tag (Legacy), where an earlier attestation of the same
// predicate type is replaced. An empty f is the signer's format. It
// returns what it attached.
func (s *Signer) AttestStatement(ctx context.Context, ref name.Digest, f Format, statement []byte) (*sign.Attestation, error) {
	if f == "" {
		f = s.o.format
	}
	if err := s.checkFormat(f); err != nil {
		return nil, err
	}
	pt, err := statementAbout(statement, ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(statement)
	att := &sign.Attestation{Subject: ref, PredicateType: pt, Statement: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	if hasLegacy(f) {
		d, err := s.attestLegacy(ctx, ref, pt, statement)
		if err != nil {
			return nil, err
		}
		att.Legacy = &d
	}
	if hasBundle(f) {
		b, err := s.bundle(ctx, statement)
		if err != nil {
			return nil, fmt.Errorf("signing the %s attestation of %s: %w", pt, ref, err)
		}
		a, err := s.attachBundle(ctx, ref, b, pt)
		if err != nil {
			return nil, fmt.Errorf("attaching the %s attestation of %s: %w", pt, ref, err)
		}
		att.Bundle = &a.Ref
	}
	return att, nil
}

// statementAbout checks that statement is an in-toto statement whose
// subject names ref's digest, and returns its predicate type.
func statementAbout(statement []byte, ref name.Digest) (string, error) {
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return "", fmt.Errorf("%w: the statement to attest to %s is not JSON: %v", ErrInvalid, ref, err)
	}
	if !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
		return "", fmt.Errorf("%w: the statement to attest to %s has _type %q, not an in-toto statement", ErrInvalid, ref, st.Type)
	}
	if st.PredicateType == "" {
		return "", fmt.Errorf("%w: the statement to attest to %s has no predicate type", ErrInvalid, ref)
	}
	want := strings.TrimPrefix(ref.DigestStr(), "sha256:")
	var about []string
	for _, sub := range st.Subject {
		if sub.Digest["sha256"] == want {
			return st.PredicateType, nil
		}
		about = append(about, "sha256:"+sub.Digest["sha256"])
	}
	return "", fmt.Errorf("%w: the %s statement is about %s, not %s", ErrInvalid, st.PredicateType, strings.Join(about, ", "), ref)
}

// attestLegacy writes a statement in the legacy .att tag and returns the
// tag's new digest.
func (s *Signer) attestLegacy(ctx context.Context, ref name.Digest, predicateType string, statement []byte) (name.Digest, error) {
	env, err := dsse.WrapSigner(s.sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		return name.Digest{}, fmt.Errorf("signing the attestation of %s: %w", ref, err)
	}
	sopts := []static.Option{static.WithLayerMediaType(ctypes.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType})}
	if s.cert != nil {
		sopts = append(sopts, static.WithCertChain(s.cert, s.chain))
	}
	if s.o.tlogUpload {
		b, err := s.uploadTlogDSSE(ctx, env)
		if err != nil {
			return name.Digest{}, err
		}
		sopts = append(sopts, b)
	}
	att, err := static.NewAttestation(env, sopts...)
	if err != nil {
		return name.Digest{}, err
	}
	se, err := ociremote.SignedEntity(ref, s.o.ociRemote(ctx)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("reading %s to attest it: %w", ref, err)
	}
	newSE, err := mutate.AttachAttestationToEntity(se, att, mutate.WithReplaceOp(replacePredicate{predicateType}))
	if err != nil {
		return name.Digest{}, err
	}
	atts, err := newSE.Attestations()
	if err != nil {
		return name.Digest{}, err
	}
	d, err := s.pushLegacy(ctx, ref, atts, ".att")
	if err != nil {
		return name.Digest{}, fmt.Errorf("writing the attestation of %s: %w", ref, err)
	}
	return d, nil
}

// replacePredicate is cosign's remote.NewReplaceOp without its notes on
// stderr (a library prints nothing): the new attestation replaces those of
// its predicate type in the legacy .att image, and the others stay after it.
type replacePredicate struct{ predicateType string }

func (r replacePredicate) Replace(atts oci.Signatures, add oci.Signature) (oci.Signatures, error) {
	list, err := atts.Get()
	if err != nil {
		return nil, err
	}
	keep := []oci.Signature{add}
	for _, a := range list {
		p, err := a.Payload()
		if err != nil {
			return nil, fmt.Errorf("reading an attestation of the legacy tag: %w", err)
		}
		var env struct {
			Payload []byte `json:"payload"`
		}
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(p, &env); err != nil {
			return nil, fmt.Errorf("an attestation of the legacy tag is not a DSSE envelope: %w", err)
		}
		if err := json.Unmarshal(env.Payload, &st); err != nil {
			return nil, fmt.Errorf("an attestation of the legacy tag is not an in-toto statement: %w", err)
		}
		if st.PredicateType != r.predicateType {
			keep = append(keep, a)
		}
	}
	return replaced{Signatures: atts, list: keep}, nil
}

// replaced is the .att image with the attestations replacePredicate kept.
type replaced struct {
	oci.Signatures
	list []oci.Signature
}

func (r replaced) Get() ([]oci.Signature, error) { return r.list, nil }

// Close releases the key (a no-op for key files).
func (s *Signer) Close() {
	if s.closeFn != nil {
		s.closeFn()
	}
}

// uploadTlog records a signature in Rekor and returns the bundle option.
func (s *Signer) uploadTlog(ctx context.Context, sig, payload []byte) (static.Option, error) {
	rc, pem, err := s.rekor()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(payload)
	entry, err := sigcosign.TLogUpload(ctx, rc, sig, h, pem)
	if err != nil {
		return nil, fmt.Errorf("uploading to the transparency log %s: %w", s.o.rekorURL, err)
	}
	return static.WithBundle(cbundle.EntryToBundle(entry)), nil
}

func (s *Signer) uploadTlogDSSE(ctx context.Context, env []byte) (static.Option, error) {
	rc, pem, err := s.rekor()
	if err != nil {
		return nil, err
	}
	entry, err := sigcosign.TLogUploadDSSEEnvelope(ctx, rc, env, pem)
	if err != nil {
		return nil, fmt.Errorf("uploading to the transparency log %s: %w", s.o.rekorURL, err)
	}
	return static.WithBundle(cbundle.EntryToBundle(entry)), nil
}

// rekor returns the Rekor client and what the log entry is verified with.
func (s *Signer) rekor() (*rekorclient.Rekor, []byte, error) {
	rc, err := rekor.GetRekorClient(s.o.rekorURL, rekor.WithUserAgent(userAgent))
	if err != nil {
		return nil, nil, fmt.Errorf("creating the Rekor client for %s: %w", s.o.rekorURL, err)
	}
	pem, err := s.verificationMaterial()
	return rc, pem, err
}

// verificationMaterial is the certificate (keyless) or the public key.
func (s *Signer) verificationMaterial() ([]byte, error) {
	if s.cert != nil {
		return s.cert, nil
	}
	return publicKeyPEM(s.sv)
}

var _ oci.Signature

// noAttestation is ErrNoAttestation.
type noAttestation struct{}

func (noAttestation) Error() string        { return "no valid attestation" }
func (noAttestation) Is(target error) bool { return target == ErrNoSignature }
