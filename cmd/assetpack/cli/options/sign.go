package options

import "github.com/spf13/pflag"

// Sign holds the signing flags.
type Sign struct {
	Key           string
	TlogUpload    bool
	RekorURL      string
	FulcioURL     string
	IdentityToken string
	Recursive     bool
	AttestFiles   bool
}

// AddFlags registers the signing flags.
func (s *Sign) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.Key, "key", "", "cosign private key file, or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://); without it signing is keyless (Fulcio + Rekor, OIDC identity)")
	fs.BoolVar(&s.TlogUpload, "tlog-upload", false, "record key-based signatures in the Rekor transparency log (--rekor-url); keyless signing always does")
	fs.StringVar(&s.RekorURL, "rekor-url", "https://rekor.sigstore.dev", "Rekor transparency log")
	fs.StringVar(&s.FulcioURL, "fulcio-url", "https://fulcio.sigstore.dev", "Fulcio certificate authority for keyless signing")
	fs.StringVar(&s.IdentityToken, "identity-token", "", "OIDC token for keyless signing (default $SIGSTORE_ID_TOKEN, else GitHub Actions' token)")
	fs.BoolVar(&s.Recursive, "recursive", true, "for an image index, also sign each platform manifest")
	fs.BoolVar(&s.AttestFiles, "attest-files", false, "also attach a signed in-toto attestation listing every file with its sha256 and size (predicate https://assetpack.dev/attestation/files/v1)")
}

// Verify holds the verification flags.
type Verify struct {
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
	fs.StringVar(&v.Key, "key", "", "public key file (cosign.pub) or KMS URI; without it verification is keyless")
	fs.StringVar(&v.Identity, "certificate-identity", "", "keyless: the signer identity (e.g. https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main)")
	fs.StringVar(&v.IdentityRegexp, "certificate-identity-regexp", "", "keyless: the signer identity as a regular expression")
	fs.StringVar(&v.Issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer (e.g. https://token.actions.githubusercontent.com)")
	fs.StringVar(&v.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: the OIDC issuer as a regular expression")
	fs.StringVar(&v.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json with the Fulcio roots and Rekor keys (needed for keyless and for log proofs; never fetched by assetpack)")
	fs.BoolVar(&v.IgnoreTlog, "insecure-ignore-tlog", false, "accept signatures without a transparency-log proof (signed with --tlog-upload=false)")
	fs.BoolVar(&v.AttestFiles, "attest-files", false, "also require a valid file-list attestation and print its predicate on stdout")
	fs.StringVar(&v.AttestType, "attestation-type", "", "also require a valid attestation of this predicate type")
}
