package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"

	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// Verifier finds and checks the signatures of an image in both formats
// (Sigstore bundle referrers, through the referrers API or the tag schema,
// and the legacy sha256-<hex>.sig tag), made by assetpack, cosign v2 or
// cosign v3, with a key or keylessly.
type Verifier struct {
	vo    VerifyOptions
	o     options
	key   signature.Verifier // key-based; nil for keyless
	trust root.TrustedMaterial
	ident *verify.CertificateIdentity
}

var _ sign.Verifier = (*Verifier)(nil)

// VerifyOptions shape a Verifier.
type VerifyOptions struct {
	// KeyRef is a public key file, a private key's KMS URI, or "" for keyless.
	KeyRef string
	// Identity and Issuer (exact, or regular expressions with the *Regexp
	// fields) are the signer a keyless signature's certificate must name.
	Identity, IdentityRegexp, Issuer, IssuerRegexp string
	// TrustedRoot is a Sigstore trusted_root.json: the Fulcio roots, the
	// Rekor and CT log keys and the timestamp authorities. Without it,
	// keyless verification (and RequireTlog) uses the public-good Sigstore
	// root, fetched through its TUF repository and cached under the user's
	// cache directory (TUFCacheDir); key-based verification uses none.
	TrustedRoot string
	// TUFCacheDir is where the TUF client caches the public-good root; ""
	// is assetpack/sigstore-tuf under os.UserCacheDir.
	TUFCacheDir string
	// TUFMirror is the TUF repository the trusted root is fetched from; ""
	// is Sigstore's public-good mirror (tuf.DefaultMirror).
	TUFMirror string
	// IgnoreTlog never checks transparency-log entries. A key-based
	// signature needs none anyway (see RequireTlog); a keyless one then
	// needs a signed timestamp.
	IgnoreTlog bool
	// RequireTlog makes a key-based signature need a transparency-log
	// entry, checked against the trusted root. By default a key-based
	// signature is valid when the key verifies it, and a log entry it
	// carries is checked when a trusted root is given. A keyless signature
	// always needs a log entry or a signed timestamp.
	RequireTlog bool
	// IgnoreSCT accepts keyless certificates without a certificate
	// transparency timestamp (private Fulcio deployments without a CT log).
	IgnoreSCT bool
}

// NewVerifier prepares a check: it loads the key, or the keyless identity
// and the trusted root (which, when no file is given, is fetched through
// Sigstore's TUF repository: the only network access besides the registry).
func NewVerifier(ctx context.Context, vo VerifyOptions, opts ...Option) (*Verifier, error) {
	o := makeOptions(opts)
	vo.IgnoreTlog = vo.IgnoreTlog || o.ignoreTlog
	v := &Verifier{vo: vo, o: o}
	if vo.TrustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(vo.TrustedRoot)
		if err != nil {
			return nil, fmt.Errorf("%w: reading trusted root %q: %v", ErrInvalid, vo.TrustedRoot, err)
		}
		v.trust = tr
	}
	switch {
	case vo.KeyRef != "":
		if vo.Identity != "" || vo.IdentityRegexp != "" || vo.Issuer != "" || vo.IssuerRegexp != "" {
			return nil, fmt.Errorf("%w: a key and a keyless identity were both given; verify with one of them", ErrInvalid)
		}
		if strings.Contains(vo.KeyRef, "://") && !isKMS(vo.KeyRef) {
			return nil, fmt.Errorf("%w: %q: unsupported key scheme; use a public key file or one of %s", ErrKey, redactRef(vo.KeyRef), strings.Join(KMSSchemes, ", "))
		}
		k, err := loadVerifier(ctx, vo.KeyRef)
		if err != nil {
			return nil, fmt.Errorf("%w: loading the public key %q: %v", ErrKey, redactRef(vo.KeyRef), err)
		}
		v.key = k
		if vo.RequireTlog && vo.IgnoreTlog {
			return nil, fmt.Errorf("%w: RequireTlog and IgnoreTlog contradict each other", ErrInvalid)
		}
		if vo.RequireTlog && v.trust == nil {
			if v.trust, err = publicGoodRoot(vo.TUFCacheDir, vo.TUFMirror); err != nil {
				return nil, err
			}
		}
	default:
		if (vo.Identity == "" && vo.IdentityRegexp == "") || (vo.Issuer == "" && vo.IssuerRegexp == "") {
			return nil, fmt.Errorf("%w: without a key, verification is keyless and needs the signer's identity and issuer (Identity or IdentityRegexp, and Issuer or IssuerRegexp)", ErrInvalid)
		}
		for _, re := range []string{vo.IdentityRegexp, vo.IssuerRegexp} {
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("%w: regular expression %q: %v", ErrInvalid, re, err)
			}
		}
		id, err := verify.NewShortCertificateIdentity(vo.Issuer, vo.IssuerRegexp, vo.Identity, vo.IdentityRegexp)
		if err != nil {
			return nil, fmt.Errorf("%w: keyless identity: %v", ErrInvalid, err)
		}
		v.ident = &id
		if v.trust == nil {
			if v.trust, err = publicGoodRoot(vo.TUFCacheDir, vo.TUFMirror); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// publicGoodRoot fetches (or reads from the cache) the public-good Sigstore
// trusted root through its TUF repository.
func publicGoodRoot(cacheDir, mirror string) (root.TrustedMaterial, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "assetpack", "sigstore-tuf")
	}
	opts := tuf.DefaultOptions().WithCachePath(cacheDir)
	if mirror != "" {
		opts = opts.WithRepositoryBaseURL(mirror)
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching the public-good Sigstore trusted root from %s (cached in %s): %v; give a trusted_root.json instead (TrustedRoot)",
			ErrNoTrustedRoot, opts.RepositoryBaseURL, cacheDir, err)
	}
	return tr, nil
}

// Where a signature was found.
const (
	FoundReferrersAPI = "referrers API"
	FoundTagSchema    = "tag schema"
	FoundLegacyTag    = "legacy tag"
)

// Report is what a verification found: every signature, valid or not, and
// every place looked.
type Report struct {
	// Image is the image verified, by digest.
	Image string `json:"image"`
	// Verified counts the valid signatures.
	Verified int `json:"verified"`
	// Signatures lists each signature found, in the order found.
	Signatures []SignatureReport `json:"signatures"`
	// Looked lists every place looked, with what was there.
	Looked []Place `json:"looked"`
	// Attestations lists the attestations found (CheckAttestations), valid
	// or not, with their predicate types; nil when they were not looked for.
	Attestations []SignatureReport `json:"attestations,omitempty"`
}

// Place is one place where signatures are looked for.
type Place struct {
	// Found is FoundReferrersAPI, FoundTagSchema or FoundLegacyTag.
	Found string `json:"found"`
	// Where names it: the referrers API request, the tag-schema index or
	// the legacy tag, with its digest when there is one.
	Where string `json:"where"`
	// Signatures counts the signatures there.
	Signatures int `json:"signatures"`
	// Error is why it could not be read, if so.
	Error string `json:"error,omitempty"`
}

// SignatureReport is one signature.
type SignatureReport struct {
	// Format is Bundle or Legacy.
	Format Format `json:"format"`
	// Found is where: FoundReferrersAPI, FoundTagSchema or FoundLegacyTag.
	Found string `json:"found"`
	// Where names the list or tag that holds it.
	Where string `json:"where"`
	// Digest is the manifest holding it: the referrer (bundle) or the
	// legacy tag's image.
	Digest string `json:"digest"`
	// PredicateType is, for an attestation, the predicate type of the
	// statement it signs (as its annotation says, when it does not verify).
	PredicateType string `json:"predicateType,omitempty"`
	// Valid reports whether it verifies; Error says why not.
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
	// Key is the hint of the key that verified it: the base64 SHA-256 of
	// its public key (PKIX), as a bundle names its key.
	Key string `json:"key,omitempty"`
	// Identity and Issuer are the keyless signer, from the certificate.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// Tlog lists its transparency-log entries.
	Tlog []TlogEntry `json:"tlog,omitempty"`
	// Timestamps lists its signed (RFC 3161) timestamps.
	Timestamps []Timestamp `json:"timestamps,omitempty"`
}

// TlogEntry is a transparency-log entry of a signature.
type TlogEntry struct {
	LogIndex       int64     `json:"logIndex"`
	IntegratedTime time.Time `json:"integratedTime"`
	// Verified reports whether the entry was checked against the trusted
	// root (a key-based signature's entry is not, without a trusted root).
	Verified bool `json:"verified"`
}

// Timestamp is a signed timestamp of a signature.
type Timestamp struct {
	Time     time.Time `json:"time"`
	Verified bool      `json:"verified"`
}

// Verify checks that ref has at least one valid signature.
func (v *Verifier) Verify(ctx context.Context, ref name.Digest) error {
	_, err := v.Check(ctx, ref)
	return err
}

// VerifyCount checks ref's signatures and returns how many are valid.
func (v *Verifier) VerifyCount(ctx context.Context, ref name.Digest) (int, error) {
	rep, err := v.Check(ctx, ref)
	if err != nil {
		return 0, err
	}
	return rep.Verified, nil
}

// Check finds ref's signatures in every place (the referrers API or the
// tag-schema index for bundles, the legacy .sig tag), verifies each and
// reports them. It fails closed: without a valid signature the error
// matches ErrNoSignature and names the digest and every place looked (the
// report is returned too). A registry that cannot be read is its own
// error, never ErrNoSignature.
func (v *Verifier) Check(ctx context.Context, ref name.Digest) (*Report, error) {
	rep := &Report{Image: ref.String(), Signatures: []SignatureReport{}, Looked: []Place{}}
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	if err := v.checkBundles(ctx, ref, h, SignPredicateType, rep, nil); err != nil {
		return nil, err
	}
	if err := v.checkLegacy(ctx, ref, h, rep); err != nil {
		return nil, err
	}
	for _, s := range rep.Signatures {
		if s.Valid {
			rep.Verified++
		}
	}
	if rep.Verified == 0 {
		return rep, noSignature(rep)
	}
	return rep, nil
}

// noSignature explains a report without a valid signature.
func noSignature(rep *Report) error {
	var parts []string
	for _, p := range rep.Looked {
		switch {
		case p.Error != "":
			parts = append(parts, fmt.Sprintf("%s: %s", p.Where, p.Error))
		case p.Signatures == 0:
			parts = append(parts, fmt.Sprintf("%s: no signature", p.Where))
		default:
			var why []string
			for _, s := range rep.Signatures {
				if s.Where == p.Where {
					why = append(why, fmt.Sprintf("%s (%s) %s", s.Digest, s.Format, s.Error))
				}
			}
			parts = append(parts, fmt.Sprintf("%s: %s", p.Where, strings.Join(why, "; ")))
		}
	}
	found := len(rep.Signatures)
	what := "is not signed"
	if found > 0 {
		what = fmt.Sprintf("has %d signature(s), none valid for this key or identity", found)
	}
	return fmt.Errorf("%w: %s %s; looked in %s", ErrNoSignature, rep.Image, what, strings.Join(parts, "; "))
}

// checkBundles verifies the bundle referrers of ref whose statement has
// predicateType; each verified statement's predicate goes to keep, when
// set.
func (v *Verifier) checkBundles(ctx context.Context, ref name.Digest, h v1.Hash, predicateType string, rep *Report, keep func(predicate []byte)) error {
	reg, err := v.o.reg()
	if err != nil {
		return err
	}
	list, err := reg.Referrers(ctx, ref, BundleMediaType)
	var rerr *publish.ReferrerError
	if errors.As(err, &rerr) {
		rep.Looked = append(rep.Looked, Place{Found: FoundTagSchema, Where: rerr.Where, Error: err.Error()})
		if strings.HasPrefix(rerr.Where, "the referrers API") {
			rep.Looked[len(rep.Looked)-1].Found = FoundReferrersAPI
		}
		return nil
	}
	if err != nil {
		return err
	}
	found := FoundTagSchema
	if list.Mechanism == publish.ReferrersAPI {
		found = FoundReferrersAPI
	}
	place := Place{Found: found, Where: list.Source}
	for _, l := range list.Referrers {
		// The annotation is unsigned: it only spares verifying what is
		// plainly another statement; the statement's own type decides.
		if pt := l.Annotations[annotationPredicateType]; pt != "" && pt != predicateType {
			continue
		}
		s := SignatureReport{Format: Bundle, Found: found, Where: l.Source, Digest: l.Digest.String()}
		pred, err := v.verifyBundle(ctx, reg, ref, h, l, predicateType, &s)
		if errors.Is(err, errNotBundle) {
			continue
		}
		place.Signatures++
		if err != nil {
			if !errors.Is(err, errInvalidSignature) {
				return err
			}
			s.Error = strings.TrimPrefix(err.Error(), errInvalidSignature.Error()+": ")
		} else {
			s.Valid = true
			if keep != nil {
				keep(pred)
			}
		}
		rep.Signatures = append(rep.Signatures, s)
	}
	rep.Looked = append(rep.Looked, place)
	return nil
}

// anyAttestation asks verifyBundle for a statement of any predicate type
// but a signature's.
const anyAttestation = ""

// errSignature: a bundle looked for as an attestation signs an image
// signature statement.
var errSignature = errors.New("an image signature, not an attestation")

// CheckAttestations verifies every attestation of ref: the Sigstore bundle
// referrers whose statement is not an image signature, and the statements
// in the legacy sha256-<hex>.att tag. Each goes to rep.Attestations, valid
// or not, with its predicate type. A list that cannot be read is skipped
// (Check reports it); a registry that cannot be reached is an error.
func (v *Verifier) CheckAttestations(ctx context.Context, ref name.Digest, rep *Report) error {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return err
	}
	rep.Attestations = []SignatureReport{}
	reg, err := v.o.reg()
	if err != nil {
		return err
	}
	list, err := reg.Referrers(ctx, ref, BundleMediaType)
	var rerr *publish.ReferrerError
	switch {
	case errors.As(err, &rerr):
	case err != nil:
		return err
	default:
		found := FoundTagSchema
		if list.Mechanism == publish.ReferrersAPI {
			found = FoundReferrersAPI
		}
		for _, l := range list.Referrers {
			pt := l.Annotations[annotationPredicateType]
			if pt == SignPredicateType {
				continue
			}
			s := SignatureReport{Format: Bundle, Found: found, Where: l.Source, Digest: l.Digest.String()}
			_, err := v.verifyBundle(ctx, reg, ref, h, l, anyAttestation, &s)
			switch {
			case errors.Is(err, errNotBundle), errors.Is(err, errSignature):
				continue
			case errors.Is(err, errInvalidSignature):
				s.Error = strings.TrimPrefix(err.Error(), errInvalidSignature.Error()+": ")
				s.PredicateType = pt
			case err != nil:
				return err
			default:
				s.Valid = true
			}
			rep.Attestations = append(rep.Attestations, s)
		}
	}
	return v.checkLegacyAttestations(ctx, ref, rep)
}

// checkLegacyAttestations adds the statements of ref's legacy .att tag to
// rep.Attestations.
func (v *Verifier) checkLegacyAttestations(ctx context.Context, ref name.Digest, rep *Report) error {
	reg, err := v.o.reg()
	if err != nil {
		return err
	}
	tag := legacyTag(ref, ".att")
	desc, err := remote.Head(tag, reg.RemoteOptions(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	where := "the legacy tag " + tag.String() + " (" + desc.Digest.String() + ")"
	atts, err := ociremote.Signatures(tag, v.o.ociRemote(ctx)...)
	var all []oci.Signature
	if err == nil {
		all, err = atts.Get()
	}
	if err != nil {
		rep.Attestations = append(rep.Attestations, SignatureReport{Format: Legacy, Found: FoundLegacyTag, Where: where,
			Digest: desc.Digest.String(), Error: fmt.Sprintf("malformed attestation image: %v", err)})
		return nil
	}
	verified, _, verr := sigcosign.VerifyImageAttestations(ctx, ref, v.legacyCheckOpts(ctx))
	valid := map[v1.Hash]bool{}
	for _, a := range verified {
		if d, err := a.Digest(); err == nil {
			valid[d] = true
		}
	}
	for _, a := range all {
		s := SignatureReport{Format: Legacy, Found: FoundLegacyTag, Where: where, Digest: desc.Digest.String()}
		if ann, err := a.Annotations(); err == nil {
			s.PredicateType = ann["predicateType"]
		}
		if rb, err := a.Bundle(); err == nil && rb != nil {
			s.Tlog = []TlogEntry{{LogIndex: rb.Payload.LogIndex, IntegratedTime: time.Unix(rb.Payload.IntegratedTime, 0).UTC()}}
		}
		if cert, err := a.Cert(); v.key == nil && err == nil && cert != nil {
			if sum, err := certificate.SummarizeCertificate(cert); err == nil {
				s.Identity, s.Issuer = sum.SubjectAlternativeName, sum.Issuer
			}
		}
		d, derr := a.Digest()
		switch {
		case derr == nil && valid[d]:
			tlog, err := v.checkLegacyEntry(a)
			if err != nil {
				s.Error = err.Error()
				break
			}
			s.Valid, s.Tlog = true, tlog
			s.Key = v.keyHint()
		case verr != nil:
			s.Error = explainLegacy(verr).Error()
		default:
			s.Error = "it does not verify with this key or identity"
		}
		rep.Attestations = append(rep.Attestations, s)
	}
	return nil
}

// keyHint is the verifier's key hint, "" when keyless.
func (v *Verifier) keyHint() string {
	if v.key == nil {
		return ""
	}
	return keyHint(v.key)
}

// errNotBundle: a referrer listed ambiguously turned out not to be a bundle.
var errNotBundle = errors.New("not a Sigstore bundle referrer")

// errInvalidSignature marks what is wrong with one signature (as opposed
// to the registry failing).
var errInvalidSignature = errors.New("invalid signature")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidSignature, fmt.Sprintf(format, args...))
}

// verifyBundle fetches and verifies one bundle referrer; it fills s and
// returns the statement's predicate.
func (v *Verifier) verifyBundle(ctx context.Context, reg *publish.Registry, ref name.Digest, h v1.Hash, l publish.Listed, predicateType string, s *SignatureReport) ([]byte, error) {
	f, err := reg.FetchReferrer(ctx, ref, l)
	if errors.Is(err, publish.ErrReferrer) {
		return nil, invalidf("%v", err)
	}
	if err != nil {
		return nil, err
	}
	if f.ArtifactType != BundleMediaType {
		return nil, errNotBundle // listed with its config's media type (cosign v2.6), and not a bundle
	}
	if len(f.Layers) != 1 {
		return nil, invalidf("the referrer has %d layers, a Sigstore bundle artifact has one", len(f.Layers))
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(f.Layers[0]); err != nil {
		return nil, invalidf("not a Sigstore bundle: %v", err)
	}
	vm := b.GetVerificationMaterial()
	for _, e := range vm.GetTlogEntries() {
		s.Tlog = append(s.Tlog, TlogEntry{LogIndex: e.GetLogIndex(), IntegratedTime: time.Unix(e.GetIntegratedTime(), 0).UTC()})
	}
	for range vm.GetTimestampVerificationData().GetRfc3161Timestamps() {
		s.Timestamps = append(s.Timestamps, Timestamp{})
	}
	if pk := vm.GetPublicKey(); pk != nil {
		s.Key = pk.GetHint()
	}
	hasTlog := len(s.Tlog) > 0
	hasTS := len(s.Timestamps) > 0
	var vopts []verify.VerifierOption
	var popts []verify.PolicyOption
	trust := v.trust
	checkTlog := false
	if v.key != nil {
		popts = append(popts, verify.WithKey())
		base := v.trust
		if base == nil {
			base = &root.BaseTrustedMaterial{}
		}
		trust = &keyMaterial{TrustedMaterial: base, key: root.NewExpiringKey(v.key, time.Time{}, time.Time{})}
		switch {
		case v.vo.RequireTlog:
			if !hasTlog {
				return nil, invalidf("it has no transparency-log entry, and one is required")
			}
			checkTlog = true
		case hasTlog && !v.vo.IgnoreTlog && v.trust != nil:
			checkTlog = true
		}
		if checkTlog {
			vopts = append(vopts, verify.WithTransparencyLog(1))
		}
		if hasTS && v.trust != nil && len(v.trust.TimestampingAuthorities()) > 0 {
			vopts = append(vopts, verify.WithSignedTimestamps(1))
		}
		vopts = append(vopts, verify.WithNoObserverTimestamps())
	} else {
		popts = append(popts, verify.WithCertificateIdentity(*v.ident))
		if !v.vo.IgnoreSCT {
			vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
		}
		useTlog := hasTlog && !v.vo.IgnoreTlog
		switch {
		case useTlog:
			checkTlog = true
			vopts = append(vopts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
			if hasTS {
				vopts = append(vopts, verify.WithSignedTimestamps(1))
			}
		case hasTS:
			vopts = append(vopts, verify.WithSignedTimestamps(1))
		default:
			return nil, invalidf("a keyless signature needs a transparency-log entry or a signed timestamp, and this one has neither")
		}
	}
	sv, err := verify.NewVerifier(trust, vopts...)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	res, err := sv.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest(h.Algorithm, mustHex(h.Hex)), popts...))
	if err != nil {
		return nil, invalidf("%v", explainBundle(err, &b))
	}
	if c := res.Signature.Certificate; c != nil {
		s.Identity, s.Issuer = c.SubjectAlternativeName, c.Issuer
	}
	for i := range s.Tlog {
		s.Tlog[i].Verified = checkTlog
	}
	for _, ts := range res.VerifiedTimestamps {
		if ts.Type == "TimestampAuthority" {
			for i := range s.Timestamps {
				if !s.Timestamps[i].Verified {
					s.Timestamps[i] = Timestamp{Time: ts.Timestamp.UTC(), Verified: true}
					break
				}
			}
		}
	}
	if res.Statement == nil {
		return nil, invalidf("the bundle signs no in-toto statement")
	}
	got := res.Statement.GetPredicateType()
	switch {
	case predicateType == anyAttestation && got == SignPredicateType:
		return nil, errSignature
	case predicateType == anyAttestation:
		s.PredicateType = got
	case got != predicateType:
		return nil, invalidf("it signs a %s statement, not %s", got, predicateType)
	}
	pred, err := res.Statement.GetPredicate().MarshalJSON()
	if err != nil {
		return nil, invalidf("reading the predicate: %v", err)
	}
	// protojson varies its whitespace on purpose: the predicate is given
	// compact, the same for the same statement.
	var buf bytes.Buffer
	if err := json.Compact(&buf, pred); err != nil {
		return nil, invalidf("reading the predicate: %v", err)
	}
	return buf.Bytes(), nil
}

// explainBundle says what sigstore-go's errors mean.
func explainBundle(err error, b *sgbundle.Bundle) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to verify leaf certificate"):
		if vc, verr := b.VerificationContent(); verr == nil && vc.Certificate() != nil {
			c := vc.Certificate()
			return fmt.Errorf("its certificate was not valid when it signed (valid from %s to %s: expired or not yet valid), or was not issued by a trusted certificate authority: %v",
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), err)
		}
	case strings.Contains(msg, "unable to verify signed timestamps"):
		return fmt.Errorf("its signed timestamp is not from a trusted timestamp authority: %v", err)
	case strings.Contains(msg, "failed to verify log inclusion"):
		return fmt.Errorf("its transparency-log entry does not verify against the trusted root: %v", err)
	case strings.Contains(msg, "artifact digest does not match"), strings.Contains(msg, "artifact digests do not match"):
		return fmt.Errorf("it signs another image (the statement's subject digest is not this image's): %v", err)
	case strings.Contains(msg, "failed to verify signature"):
		return fmt.Errorf("the signature does not verify with this key or certificate (another signer, or a changed payload): %v", err)
	}
	return err
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// keyMaterial is trusted material that verifies every public-key signature
// with one key, as cosign v3 does for --key (pkg/cosign/verify.go,
// verifyTrustedMaterial): the bundle's hint is not trusted to pick it.
type keyMaterial struct {
	root.TrustedMaterial
	key root.TimeConstrainedVerifier
}

func (k *keyMaterial) PublicKeyVerifier(string) (root.TimeConstrainedVerifier, error) {
	return k.key, nil
}

// checkLegacy verifies the signatures of ref's legacy .sig tag.
func (v *Verifier) checkLegacy(ctx context.Context, ref name.Digest, h v1.Hash, rep *Report) error {
	tag := legacyTag(ref, ".sig")
	ro := v.o.ociRemote(ctx)
	place := Place{Found: FoundLegacyTag, Where: "the legacy tag " + tag.String()}
	reg, err := v.o.reg()
	if err != nil {
		return err
	}
	desc, err := remote.Head(tag, reg.RemoteOptions(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		rep.Looked = append(rep.Looked, place)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	place.Where += " (" + desc.Digest.String() + ")"
	sigs, err := ociremote.Signatures(tag, ro...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	list, err := sigs.Get()
	if err != nil {
		place.Error = fmt.Sprintf("malformed signature image: %v", err)
		rep.Looked = append(rep.Looked, place)
		return nil
	}
	for _, sig := range list {
		place.Signatures++
		s := SignatureReport{Format: Legacy, Found: FoundLegacyTag, Where: place.Where, Digest: desc.Digest.String()}
		if err := v.verifyLegacy(ctx, sig, h, &s); err != nil {
			s.Error = err.Error()
		} else {
			s.Valid = true
		}
		rep.Signatures = append(rep.Signatures, s)
	}
	rep.Looked = append(rep.Looked, place)
	return nil
}

// verifyLegacy checks one legacy signature with cosign v2's verifier. Each
// signature gets its own check options: a key-based signature's log entry
// is checked only when it has one and a trusted root was given (or
// RequireTlog), as with bundles.
func (v *Verifier) verifyLegacy(ctx context.Context, sig oci.Signature, h v1.Hash, s *SignatureReport) error {
	rb, err := sig.Bundle()
	if err != nil {
		return fmt.Errorf("reading its log entry: %v", err)
	}
	if rb != nil {
		s.Tlog = []TlogEntry{{LogIndex: rb.Payload.LogIndex, IntegratedTime: time.Unix(rb.Payload.IntegratedTime, 0).UTC()}}
	}
	co := &sigcosign.CheckOpts{ClaimVerifier: sigcosign.SimpleClaimVerifier, IgnoreSCT: v.vo.IgnoreSCT, Offline: true}
	if v.trust != nil {
		co.TrustedMaterial = v.trust
	}
	if v.key != nil {
		co.SigVerifier = v.key
		s.Key = keyHint(v.key)
		switch {
		case v.vo.RequireTlog && rb == nil:
			return errors.New("it has no transparency-log entry, and one is required")
		case v.vo.RequireTlog:
		case rb != nil && !v.vo.IgnoreTlog && v.trust != nil:
		default:
			co.IgnoreTlog = true
		}
	} else {
		co.Identities = []sigcosign.Identity{{Subject: v.vo.Identity, SubjectRegExp: v.vo.IdentityRegexp, Issuer: v.vo.Issuer, IssuerRegExp: v.vo.IssuerRegexp}}
		if rb == nil {
			return errors.New("a keyless signature needs a transparency-log entry, and this one has none")
		}
		if cert, err := sig.Cert(); err == nil && cert != nil {
			if sum, err := certificate.SummarizeCertificate(cert); err == nil {
				s.Identity, s.Issuer = sum.SubjectAlternativeName, sum.Issuer
			}
		}
	}
	verified, err := sigcosign.VerifyImageSignature(ctx, sig, h, co)
	if err != nil {
		return explainLegacy(err)
	}
	for i := range s.Tlog {
		s.Tlog[i].Verified = verified
	}
	return nil
}

// keyHint is a public key's hint as bundles carry it: the base64 SHA-256
// of its PKIX form.
func keyHint(k signature.Verifier) string {
	pub, err := k.PublicKey()
	if err != nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// explainLegacy says what a cosign v2 verification error means.
func explainLegacy(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid signature when validating ASN.1 encoded signature"),
		strings.Contains(msg, "crypto/rsa: verification error"), strings.Contains(msg, "ed25519: invalid signature"):
		return fmt.Errorf("the signature does not verify with this key or certificate (another signer, or a changed payload): %v", err)
	case strings.Contains(msg, "docker-manifest-digest"), strings.Contains(msg, "invalid or missing digest in claim"):
		return fmt.Errorf("it signs another image: %v", err)
	case strings.Contains(msg, "verifying bundle with trusted root"), strings.Contains(msg, "rekor log public key not found"):
		// cosign's VerifyBundle: the signed entry timestamp is not the
		// trusted log's, as a bundle's entry is reported by explainBundle.
		return fmt.Errorf("its transparency-log entry does not verify against the trusted root: %v", err)
	}
	return err
}

// VerifyAttestation checks that ref has a valid attestation of
// predicateType, as a bundle referrer or in the legacy .att tag, and
// returns its predicate (JSON).
func (v *Verifier) VerifyAttestation(ctx context.Context, ref name.Digest, predicateType string) ([]byte, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	rep := &Report{Image: ref.String()}
	var pred []byte
	if err := v.checkBundles(ctx, ref, h, predicateType, rep, func(p []byte) {
		if pred == nil {
			pred = p
		}
	}); err != nil {
		return nil, err
	}
	if pred != nil {
		return pred, nil
	}
	legacy, legacyErr := v.legacyAttestation(ctx, ref, predicateType)
	if legacyErr == nil {
		return legacy, nil
	}
	if !errors.Is(legacyErr, ErrNoSignature) {
		return nil, legacyErr
	}
	var why []string
	for _, p := range rep.Looked {
		switch {
		case p.Error != "":
			why = append(why, p.Where+": "+p.Error)
		case p.Signatures == 0:
			why = append(why, p.Where+": none")
		}
	}
	for _, s := range rep.Signatures {
		why = append(why, fmt.Sprintf("%s %s: %s", s.Where, s.Digest, s.Error))
	}
	legacyWhy := strings.TrimPrefix(legacyErr.Error(), ErrNoSignature.Error()+": ")
	if strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(legacyWhy), ":")) == sigcosign.ErrNoMatchingAttestationsMessage {
		legacyWhy = "none" // cosign's message with an empty list of reasons
	}
	why = append(why, "the legacy tag "+legacyTag(ref, ".att").String()+": "+legacyWhy)
	return nil, fmt.Errorf("%w: %s has no valid %s attestation; looked in %s", ErrNoAttestation, ref, predicateType, strings.Join(why, "; "))
}

// legacyAttestation checks the legacy .att tag with cosign v2's verifier.
func (v *Verifier) legacyAttestation(ctx context.Context, ref name.Digest, predicateType string) ([]byte, error) {
	atts, _, err := sigcosign.VerifyImageAttestations(ctx, ref, v.legacyCheckOpts(ctx))
	if err != nil {
		var noSigs *sigcosign.ErrNoSignaturesFound
		var noMatch *sigcosign.ErrNoMatchingAttestations
		if errors.As(err, &noSigs) {
			return nil, fmt.Errorf("%w: %v", ErrNoSignature, err)
		}
		if errors.As(err, &noMatch) {
			return nil, fmt.Errorf("%w: %v", ErrNoSignature, explainLegacy(err))
		}
		var terr *transport.Error
		if errors.As(err, &terr) {
			return nil, fmt.Errorf("reading the attestations of %s: %w", ref, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrNoSignature, err)
	}
	var entryErrs []string
	for _, a := range atts {
		payload, err := a.Payload()
		if err != nil {
			continue
		}
		var env struct {
			Payload []byte `json:"payload"`
		}
		if json.Unmarshal(payload, &env) != nil {
			continue
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if json.Unmarshal(env.Payload, &st) != nil || st.PredicateType != predicateType {
			continue
		}
		if _, err := v.checkLegacyEntry(a); err != nil {
			entryErrs = append(entryErrs, err.Error())
			continue
		}
		return st.Predicate, nil
	}
	if len(entryErrs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSignature, strings.Join(entryErrs, "; "))
	}
	return nil, fmt.Errorf("%w: signed attestations, but none of type %s", ErrNoSignature, predicateType)
}

// checkLegacyEntry checks the log entry of a legacy attestation that
// cosign's verifier accepted, where cosign's options cannot say what
// verifyLegacy does for signatures: a key-based attestation's entry is
// checked when it has one and a trusted root is given (cosign's
// IgnoreTlog applies to the whole list, and without it an attestation
// with no entry fails). It returns the entry for the report, and whether
// it was checked against the trusted root (here, or by cosign).
func (v *Verifier) checkLegacyEntry(a oci.Signature) ([]TlogEntry, error) {
	rb, err := a.Bundle()
	if err != nil {
		return nil, fmt.Errorf("reading its log entry: %v", err)
	}
	if rb == nil {
		return nil, nil
	}
	e := TlogEntry{LogIndex: rb.Payload.LogIndex, IntegratedTime: time.Unix(rb.Payload.IntegratedTime, 0).UTC()}
	switch {
	case v.key == nil, v.vo.RequireTlog:
		e.Verified = true // cosign checked it (legacyCheckOpts)
	case !v.vo.IgnoreTlog && v.trust != nil:
		if _, err := sigcosign.VerifyBundle(a, &sigcosign.CheckOpts{SigVerifier: v.key, TrustedMaterial: v.trust}); err != nil {
			return nil, explainLegacy(err)
		}
		e.Verified = true
	}
	return []TlogEntry{e}, nil
}

// legacyCheckOpts are cosign v2's options for the legacy .att tag.
func (v *Verifier) legacyCheckOpts(ctx context.Context) *sigcosign.CheckOpts {
	co := &sigcosign.CheckOpts{
		RegistryClientOpts: v.o.ociRemote(ctx),
		ClaimVerifier:      sigcosign.IntotoSubjectClaimVerifier,
		IgnoreSCT:          v.vo.IgnoreSCT,
		Offline:            true,
	}
	if v.trust != nil {
		co.TrustedMaterial = v.trust
	}
	if v.key != nil {
		co.SigVerifier = v.key
		co.IgnoreTlog = !v.vo.RequireTlog
	} else {
		co.Identities = []sigcosign.Identity{{Subject: v.vo.Identity, SubjectRegExp: v.vo.IdentityRegexp, Issuer: v.vo.Issuer, IssuerRegExp: v.vo.IssuerRegexp}}
	}
	return co
}

// loadVerifier opens a KMS key or a PEM public key file (see loadKeyFile for
// why not cosign's PublicKeyFromKeyRef). A certificate file works too: its
// public key is used.
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
		certs, cerr := cryptoutils.UnmarshalCertificatesFromPEM(raw)
		if cerr != nil || len(certs) == 0 {
			return nil, fmt.Errorf("pem to public key: %w", err)
		}
		pub = certs[0].PublicKey
	}
	return signature.LoadVerifier(pub, crypto.SHA256)
}
