// Package policy renders admission policies that require cosign signatures
// on the images Kubernetes mounts as image volumes
// (spec.volumes[].image.reference of Pods and of the pod templates of
// Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
// Jobs and CronJobs). Admission controllers check containers[].image out of
// the box; image volumes carry images too, and these policies point the
// controller at them.
//
// Two controllers are supported: Kyverno (a kyverno.io/v1 ClusterPolicy whose
// verifyImages rule reads the volume references through imageExtractors) and
// the sigstore policy-controller (a policy.sigstore.dev/v1beta1
// ClusterImagePolicy; the controller itself decides which fields of a Pod it
// checks, see Rendered.Warnings).
//
// The package is pure: no network, no files. Objects are typed structs
// marshalled with sigs.k8s.io/yaml, so keys come out sorted and the output
// is byte-for-byte stable.
package policy

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/assetpack/assetpack/internal/lazyre"
)

// ErrInvalid is matched (errors.Is) by every *Error: a request that cannot
// become a policy.
var ErrInvalid = errors.New("invalid policy request")

// Error is a Spec value that cannot become a policy. Its message is the
// field in words, the quoted value (when there is one to quote) and Reason,
// as in `image pattern "a b": contains whitespace or control characters`,
// so that a caller can name its own input in place of the field (Named).
type Error struct {
	// Field is the Spec field: "Format", "Name", "Action", "Signatures",
	// "Images", "PublicKey", "Keyless.Subject", "Keyless.SubjectRegexp",
	// "Keyless.Issuer", "Keyless.IssuerRegexp", "Keyless.CTLogPublicKey",
	// "Tlog.URL" or "Tlog.PublicKey".
	Field string
	// Value is the value as given; "" when missing, and for keys (whose
	// PEM is not worth quoting).
	Value string
	// Reason says what is wrong and what would work.
	Reason string
}

func (e *Error) Error() string { return e.Named(fieldNoun[e.Field]) }

// Named returns the message with name (such as a CLI's flag) in place of
// the field's words.
func (e *Error) Named(name string) string {
	if e.Value == "" {
		return name + ": " + e.Reason
	}
	return fmt.Sprintf("%s %q: %s", name, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// fieldNoun names a Spec field in messages.
var fieldNoun = map[string]string{
	"Format":                 "policy format",
	"Name":                   "policy name",
	"Action":                 "failure action",
	"Signatures":             "signature format",
	"Images":                 "image pattern",
	"PublicKey":              "public key",
	"Keyless.Subject":        "certificate identity",
	"Keyless.SubjectRegexp":  "certificate identity regexp",
	"Keyless.Issuer":         "OIDC issuer",
	"Keyless.IssuerRegexp":   "OIDC issuer regexp",
	"Tlog.URL":               "Rekor URL",
	"Tlog.PublicKey":         "Rekor public key",
	"Keyless.CTLogPublicKey": "CT log public key",
}

func invalid(field, value, format string, args ...any) error {
	return &Error{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Format is the admission controller a policy is written for.
type Format string

// Formats.
const (
	// Kyverno: a kyverno.io/v1 ClusterPolicy (Kyverno ≥ 1.13).
	Kyverno Format = "kyverno"
	// PolicyController: a policy.sigstore.dev/v1beta1 ClusterImagePolicy.
	PolicyController Format = "policy-controller"
)

// ParseFormat accepts kyverno or policy-controller (any case; also
// "sigstore" for the policy-controller).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Kyverno, PolicyController:
		return f, nil
	case "sigstore", "policy.sigstore.dev", "sigstore-policy-controller":
		return PolicyController, nil
	}
	return "", invalid("Format", s, "use kyverno or policy-controller")
}

// Action is what happens to a Pod whose image volume is not verified.
type Action string

// Actions.
const (
	// Enforce rejects the object (the default).
	Enforce Action = "Enforce"
	// Audit admits it and reports the failure (Kyverno: a policy report;
	// policy-controller: a warning to the client).
	Audit Action = "Audit"
)

// ParseAction accepts Enforce or Audit in any case.
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "enforce":
		return Enforce, nil
	case "audit":
		return Audit, nil
	}
	return "", invalid("Action", s, "use Enforce or Audit")
}

// SignatureFormat is where and how the signatures are stored. A policy
// accepts one of them: an image signed only in the other format fails.
type SignatureFormat string

// Signature formats.
const (
	// Legacy is cosign's "sha256-<hex>.sig" tag holding a simple-signing
	// payload: what cosign v2 writes, and assetpack with the legacy or
	// both signature format.
	Legacy SignatureFormat = "legacy"
	// Bundle is a Sigstore bundle (v0.3) attached as an OCI 1.1 referrer,
	// or under the "sha256-<hex>" referrers tag on registries without the
	// referrers API: what assetpack and cosign v3 write by default.
	Bundle SignatureFormat = "bundle"
)

// ParseSignatureFormat accepts legacy or bundle.
func ParseSignatureFormat(s string) (SignatureFormat, error) {
	switch f := SignatureFormat(strings.ToLower(s)); f {
	case Legacy, Bundle:
		return f, nil
	}
	return "", invalid("Signatures", s, "use bundle (the Sigstore bundle referrer: assetpack's and cosign v3's default) or legacy (the sha256-<hex>.sig tag: cosign v2)")
}

// Defaults of Spec.
const (
	DefaultName = "assetpack-image-volumes"
	// DefaultRekorURL is the public Rekor log, used for keyless signatures
	// when Tlog.URL is empty.
	DefaultRekorURL = "https://rekor.sigstore.dev"
	// DefaultFulcioURL is the public Fulcio CA (policy-controller's keyless
	// authority names it).
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
)

// Spec is what the policy requires.
type Spec struct {
	// Format is the admission controller; it has no default.
	Format Format
	// Name is metadata.name; DefaultName when empty.
	Name string
	// Images are the patterns of the image references the policy covers,
	// such as registry.example.com/web/*. Kyverno's "*" matches any
	// characters, "/" included; policy-controller's "*" stops at "/" and
	// "**" crosses it. At least one is required.
	Images []string
	// Action defaults to Enforce.
	Action Action
	// Signatures defaults to Bundle, what assetpack and cosign v3 sign
	// with by default, wherever the controller can check a bundle from
	// this signer; otherwise (a public key with the policy-controller, a
	// private Rekor or CT log) to Legacy, and Render warns.
	Signatures SignatureFormat
	// PublicKey is a PEM public key (cosign.pub). Exactly one of PublicKey
	// and Keyless is set.
	PublicKey []byte
	// Keyless accepts Fulcio certificates for an OIDC identity.
	Keyless *Keyless
	// Tlog is the Rekor transparency log. For a key, nil means that no log
	// entry is required (assetpack sign uploads none unless asked); for
	// keyless, nil means the public log (DefaultRekorURL).
	Tlog *Tlog

	// legacyBecause is why withDefaults chose Legacy for an empty
	// Signatures; Render turns it into a warning.
	legacyBecause string
}

// Keyless is the signer identity of keyless signatures: one of Subject and
// SubjectRegexp, and one of Issuer and IssuerRegexp (Go regular
// expressions, as both controllers use).
type Keyless struct {
	Subject       string
	SubjectRegexp string
	Issuer        string
	IssuerRegexp  string
	// CTLogPublicKey (PEM) checks the certificate's SCT against a private
	// certificate transparency log instead of the public one (Kyverno only).
	CTLogPublicKey []byte
	// IgnoreSCT accepts certificates without an embedded SCT (private
	// Fulcio deployments without a CT log).
	IgnoreSCT bool
}

// Tlog is a Rekor transparency log.
type Tlog struct {
	// URL of the log; DefaultRekorURL when empty.
	URL string
	// PublicKey (PEM) of a private log (Kyverno only; the policy-controller
	// takes private log keys from a TrustRoot resource).
	PublicKey []byte
}

// Rendered is a policy document and what its reader must know.
type Rendered struct {
	// YAML is one Kubernetes object.
	YAML []byte
	// Warnings are limits of the admission controller that the policy
	// cannot express, one sentence each, for the caller to show.
	Warnings []string
}

// Render writes the policy for s.Format.
func Render(s Spec) (*Rendered, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	var r *Rendered
	switch s.Format {
	case Kyverno:
		r, err = renderKyverno(s)
	case PolicyController:
		r, err = renderPolicyController(s)
	default:
		return nil, invalid("Format", string(s.Format), "use kyverno or policy-controller")
	}
	if err == nil && s.legacyBecause != "" {
		r.Warnings = append(r.Warnings, legacyWarning(s.legacyBecause))
	}
	return r, err
}

// withDefaults fills defaults and checks what is common to both formats.
func (s Spec) withDefaults() (Spec, error) {
	if s.Format == "" {
		return s, invalid("Format", "", "none given; use kyverno or policy-controller")
	}
	f, err := ParseFormat(string(s.Format))
	if err != nil {
		return s, err
	}
	s.Format = f
	if s.Name == "" {
		s.Name = DefaultName
	}
	if !validName(s.Name) {
		return s, invalid("Name", s.Name, "must be a DNS label: lowercase letters, digits and '-', at most 63 characters")
	}
	if s.Action == "" {
		s.Action = Enforce
	}
	if s.Action, err = ParseAction(string(s.Action)); err != nil {
		return s, err
	}
	if s.Signatures != "" {
		if s.Signatures, err = ParseSignatureFormat(string(s.Signatures)); err != nil {
			return s, err
		}
	}
	if len(s.Images) == 0 {
		return s, invalid("Images", "", "none given; name the images the policy covers, such as registry.example.com/web/*")
	}
	for _, p := range s.Images {
		if err := checkPattern(s.Format, p); err != nil {
			return s, err
		}
	}
	switch {
	case len(s.PublicKey) > 0 && s.Keyless != nil:
		return s, invalid("PublicKey", "", "given with a keyless identity; a policy checks one kind of signature: choose one")
	case len(s.PublicKey) == 0 && s.Keyless == nil:
		return s, invalid("PublicKey", "", "none, and no keyless identity; give a public key (cosign.pub) or a keyless identity (subject and OIDC issuer)")
	case len(s.PublicKey) > 0:
		if s.PublicKey, err = publicKeyPEM("PublicKey", s.PublicKey); err != nil {
			return s, err
		}
	default:
		k := *s.Keyless
		if err := k.check(); err != nil {
			return s, err
		}
		if len(k.CTLogPublicKey) > 0 {
			if k.CTLogPublicKey, err = publicKeyPEM("Keyless.CTLogPublicKey", k.CTLogPublicKey); err != nil {
				return s, err
			}
		}
		s.Keyless = &k
		if s.Tlog == nil {
			s.Tlog = &Tlog{}
		}
	}
	if s.Tlog != nil {
		t := *s.Tlog
		if t.URL == "" {
			t.URL = DefaultRekorURL
		}
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return s, invalid("Tlog.URL", t.URL, "must be an http(s) URL such as %s", DefaultRekorURL)
		}
		if len(t.PublicKey) > 0 {
			if t.PublicKey, err = publicKeyPEM("Tlog.PublicKey", t.PublicKey); err != nil {
				return s, err
			}
		}
		s.Tlog = &t
	}
	if s.Signatures == "" {
		s.Signatures = Bundle
		if _, _, why := s.bundleUnsupported(); why != "" {
			s.Signatures, s.legacyBecause = Legacy, why
		}
	} else if field, value, why := s.bundleUnsupported(); s.Signatures == Bundle && why != "" {
		return s, invalid(field, value, "%s: choose the legacy signature format, and sign the images in the legacy or both format", why)
	}
	return s, nil
}

// bundleUnsupported says why the controller of s cannot check Sigstore
// bundle signatures from the signer of s (with the Spec field and value
// that make it so), or returns an empty reason when it can. Both
// controllers check bundles with sigstore-go against one trusted root:
//   - sigstore policy-controller: only for keyless authorities
//     (checkOptsFromAuthority in pkg/webhook/validator.go: "when using the
//     new bundle format, the authority must be keyless", still so in
//     August 2026), and with the public root unless a TrustRoot resource
//     is referenced, which assetpack does not write;
//   - Kyverno (pkg/image/verifiers/cpol/cosign/sigstore.go, v1.19): keys
//     and identities, but its trusted root is the public Sigstore one, so
//     a private Rekor or CT log cannot be named.
func (s Spec) bundleUnsupported() (field, value, why string) {
	privateLog := s.Tlog != nil && (s.Tlog.URL != DefaultRekorURL || len(s.Tlog.PublicKey) > 0)
	switch {
	case s.Format == PolicyController && s.Keyless == nil:
		return "Signatures", string(Bundle), "the policy-controller checks Sigstore bundles only for keyless authorities, not for a public key"
	case s.Format == PolicyController && privateLog:
		return "Tlog.URL", s.Tlog.URL, "the policy-controller checks Sigstore bundles against the public Sigstore trust root only, not a private Rekor log"
	case s.Format == Kyverno && privateLog:
		return "Tlog.URL", s.Tlog.URL, "Kyverno checks Sigstore bundles against the public Sigstore trust root only, not a private Rekor log"
	case s.Format == Kyverno && s.Keyless != nil && len(s.Keyless.CTLogPublicKey) > 0:
		return "Keyless.CTLogPublicKey", "", "Kyverno checks Sigstore bundles against the public Sigstore trust root only, not a private CT log"
	}
	return "", "", ""
}

// legacyWarning is Render's warning when the signature format defaulted
// to Legacy.
func legacyWarning(why string) string {
	return "this policy accepts legacy signatures (the sha256-<hex>.sig tag), not the Sigstore bundles that assetpack and cosign v3 sign with by default, because " +
		why + ": sign the images in the legacy or both signature format, or the controller will reject them"
}

func (k Keyless) check() error {
	switch {
	case k.Subject == "" && k.SubjectRegexp == "":
		return invalid("Keyless.Subject", "", "missing; keyless verification needs the signer identity (certificate subject) or a regular expression for it")
	case k.Subject != "" && k.SubjectRegexp != "":
		return invalid("Keyless.Subject", k.Subject, "given with a regular expression for it; give one, not both")
	case k.Issuer == "" && k.IssuerRegexp == "":
		return invalid("Keyless.Issuer", "", "missing; keyless verification needs the OIDC issuer of the signer identity or a regular expression for it")
	case k.Issuer != "" && k.IssuerRegexp != "":
		return invalid("Keyless.Issuer", k.Issuer, "given with a regular expression for it; give one, not both")
	}
	for field, re := range map[string]string{"Keyless.SubjectRegexp": k.SubjectRegexp, "Keyless.IssuerRegexp": k.IssuerRegexp} {
		if _, err := regexp.Compile(re); err != nil {
			return invalid(field, re, "is not a regular expression: %v", err)
		}
	}
	for field, v := range map[string]string{"Keyless.Subject": k.Subject, "Keyless.SubjectRegexp": k.SubjectRegexp,
		"Keyless.Issuer": k.Issuer, "Keyless.IssuerRegexp": k.IssuerRegexp} {
		if hasControl(v) {
			return invalid(field, v, "contains control characters")
		}
	}
	return nil
}

// policyControllerGlob is the character set policy-controller's glob
// compiler accepts (pkg/apis/glob in sigstore/policy-controller).
var policyControllerGlob = lazyre.New(`^[a-zA-Z0-9\-_:/*.@]+$`)

func checkPattern(f Format, p string) error {
	switch {
	case p == "":
		return invalid("Images", "", "empty")
	case strings.ContainsAny(p, " \t\r\n") || hasControl(p):
		return invalid("Images", p, "contains whitespace or control characters")
	case f == PolicyController && !policyControllerGlob().MatchString(p):
		return invalid("Images", p, "the policy-controller accepts only letters, digits and - _ : / * . @ in a glob (no ? or [ ])")
	case f == PolicyController && (p == "*" || p == "*/*"):
		return invalid("Images", p, "the policy-controller reads this as a Docker Hub pattern (index.docker.io/…); name the registry, such as registry.example.com/**")
	}
	return nil
}

// publicKeyPEM checks that b is exactly one PEM public key and returns it
// re-encoded (comments and surrounding text dropped): both controllers
// read an inline key only when it starts with "-----BEGIN PUBLIC KEY-----".
func publicKeyPEM(field string, b []byte) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, invalid(field, "", "not PEM; expected a public key file such as cosign.pub (-----BEGIN PUBLIC KEY-----)")
	}
	switch {
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, invalid(field, "", "a private key (%s); give the public key (cosign.pub), never the private one", block.Type)
	case block.Type == "CERTIFICATE":
		return nil, invalid(field, "", "a certificate; give its public key (openssl x509 -pubkey -noout), or verify keyless")
	case block.Type != "PUBLIC KEY":
		return nil, invalid(field, "", "a PEM %q block, not a PUBLIC KEY", block.Type)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, invalid(field, "", "does not parse: %v", err)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, invalid(field, "", "more than one PEM block; give one public key")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}), nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// validName reports whether s is a DNS label (RFC 1123, as Kubernetes
// checks object, container and volume names): lower-case letters, digits
// and '-', at most 63 characters, starting and ending with a letter or digit.
func validName(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }
