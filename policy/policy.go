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
	// payload: what assetpack sign and cosign v2 write (the default).
	Legacy SignatureFormat = "legacy"
	// Bundle is a Sigstore bundle (v0.3) attached as an OCI 1.1 referrer,
	// or under the "sha256-<hex>" referrers tag on registries without the
	// referrers API: what cosign v3 writes by default.
	Bundle SignatureFormat = "bundle"
)

// ParseSignatureFormat accepts legacy or bundle.
func ParseSignatureFormat(s string) (SignatureFormat, error) {
	switch f := SignatureFormat(strings.ToLower(s)); f {
	case Legacy, Bundle:
		return f, nil
	}
	return "", invalid("Signatures", s, "use legacy (the sha256-<hex>.sig tag: assetpack sign, cosign v2) or bundle (Sigstore bundle referrer: cosign v3)")
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
	// Signatures defaults to Legacy.
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
	switch s.Format {
	case Kyverno:
		return renderKyverno(s)
	case PolicyController:
		return renderPolicyController(s)
	}
	return nil, invalid("Format", string(s.Format), "use kyverno or policy-controller")
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
	if s.Signatures == "" {
		s.Signatures = Legacy
	}
	if s.Signatures, err = ParseSignatureFormat(string(s.Signatures)); err != nil {
		return s, err
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
	return s, nil
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
var policyControllerGlob = regexp.MustCompile(`^[a-zA-Z0-9\-_:/*.@]+$`)

func checkPattern(f Format, p string) error {
	switch {
	case p == "":
		return invalid("Images", "", "empty")
	case strings.ContainsAny(p, " \t\r\n") || hasControl(p):
		return invalid("Images", p, "contains whitespace or control characters")
	case f == PolicyController && !policyControllerGlob.MatchString(p):
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
