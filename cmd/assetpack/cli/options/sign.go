package options

import (
	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/sign/cosign"
)

// Sign holds the signing flags.
type Sign struct {
	Key             string
	SignatureFormat string
	TimestampURL    string
	TlogUpload      bool
	// NoTlog is --tlog-upload=false given explicitly: keyless signing then
	// relies on a signed timestamp instead of a Rekor entry.
	NoTlog        bool
	RekorURL      string
	FulcioURL     string
	IdentityToken string
	Recursive     bool
	AttestFiles   bool
}

// Resolve fills what the flags say only together (call it in RunE).
func (s *Sign) Resolve(fs *pflag.FlagSet) {
	s.NoTlog = fs.Changed("tlog-upload") && !s.TlogUpload
}

// AddFlags registers the signing flags.
func (s *Sign) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.Key, "key", "", "cosign private key file, or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://); without it signing is keyless (Fulcio + Rekor, OIDC identity)")
	fs.StringVar(&s.SignatureFormat, "signature-format", "bundle", "bundle (a Sigstore bundle attached as an OCI 1.1 referrer, as cosign v3 signs), legacy (the sha256-<hex>.sig tag, as cosign v2 signs) or both")
	fs.StringVar(&s.TimestampURL, "timestamp-server-url", "", "also get an RFC 3161 signed timestamp for bundle signatures from this timestamp authority (e.g. https://timestamp.sigstore.dev/api/v1/timestamp)")
	fs.BoolVar(&s.TlogUpload, "tlog-upload", false, "record key-based signatures in the Rekor transparency log (--rekor-url); keyless signing does unless --tlog-upload=false is given with --timestamp-server-url")
	fs.StringVar(&s.RekorURL, "rekor-url", "https://rekor.sigstore.dev", "Rekor transparency log")
	fs.StringVar(&s.FulcioURL, "fulcio-url", "https://fulcio.sigstore.dev", "Fulcio certificate authority for keyless signing")
	fs.StringVar(&s.IdentityToken, "identity-token", "", "OIDC token for keyless signing (default $SIGSTORE_ID_TOKEN, else GitHub Actions' token)")
	fs.BoolVar(&s.Recursive, "recursive", true, "for an image index, also sign each platform manifest")
	fs.BoolVar(&s.AttestFiles, "attest-files", false, "also attach a signed in-toto attestation listing every file with its sha256 and size (predicate https://assetpack.dev/attestation/files/v1)")
}

// Verify holds the verification flags.
type Verify struct {
	JSON           bool
	RequireTlog    bool
	IgnoreSCT      bool
	Key            string
	Identity       string
	IdentityRegexp string
	Issuer         string
	IssuerRegexp   string
	TrustedRoot    string
	IgnoreTlog     bool
	AttestFiles    bool
	AttestType     string
}

// AddFlags registers the verification flags.
func (v *Verify) AddFlags(fs *pflag.FlagSet) {
	v.AddTrustFlags(fs)
	fs.BoolVar(&v.AttestFiles, "attest-files", false, "also require a valid file-list attestation and print its predicate on stdout")
	fs.StringVar(&v.AttestType, "attestation-type", "", "also require a valid attestation of this predicate type")
	fs.BoolVar(&v.JSON, "json", false, "print the report on stdout as JSON: every signature found, where, by whom, and its log and timestamp evidence")
}

// AddTrustFlags registers the flags that say whose signature is valid: the
// key or keyless identity, and the trust and log settings.
func (v *Verify) AddTrustFlags(fs *pflag.FlagSet) {
	fs.StringVar(&v.Key, "key", "", "public key file (cosign.pub) or KMS URI; without it verification is keyless")
	fs.StringVar(&v.Identity, "certificate-identity", "", "keyless: the signer identity (e.g. https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main)")
	fs.StringVar(&v.IdentityRegexp, "certificate-identity-regexp", "", "keyless: the signer identity as a regular expression")
	fs.StringVar(&v.Issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer (e.g. https://token.actions.githubusercontent.com)")
	fs.StringVar(&v.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: the OIDC issuer as a regular expression")
	fs.StringVar(&v.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json (Fulcio roots, Rekor and CT log keys, timestamp authorities); default for keyless: the public-good root through Sigstore's TUF repository, cached in the user cache directory")
	fs.BoolVar(&v.IgnoreTlog, "insecure-ignore-tlog", false, "never check transparency-log entries (a key-based signature needs none anyway; a keyless one then needs a signed timestamp)")
	fs.BoolVar(&v.RequireTlog, "require-tlog", false, "with --key: require a transparency-log entry, checked against the trusted root (default: the key's signature suffices, as sign writes no log entry unless --tlog-upload)")
	fs.BoolVar(&v.IgnoreSCT, "insecure-ignore-sct", false, "keyless: accept certificates without a certificate-transparency timestamp (private Fulcio without a CT log)")
}

// Options converts the flags to the verifier's options.
func (v *Verify) Options() cosign.VerifyOptions {
	return cosign.VerifyOptions{
		KeyRef: v.Key, Identity: v.Identity, IdentityRegexp: v.IdentityRegexp,
		Issuer: v.Issuer, IssuerRegexp: v.IssuerRegexp, TrustedRoot: v.TrustedRoot,
		IgnoreTlog: v.IgnoreTlog, RequireTlog: v.RequireTlog, IgnoreSCT: v.IgnoreSCT,
	}
}
