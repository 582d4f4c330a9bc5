package options

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/attest"
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
	Attest        Attest
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
	SBOM           bool
	AttestType     string
}

// AddFlags registers the verification flags.
func (v *Verify) AddFlags(fs *pflag.FlagSet) {
	v.AddTrustFlags(fs)
	fs.BoolVar(&v.SBOM, "sbom", false, "also require a valid SBOM attestation (SPDX or CycloneDX) and print its predicate, the SBOM document, on stdout")
	fs.StringVar(&v.AttestType, "attestation-type", "", "also require a valid attestation of this predicate type and print its predicate on stdout: spdxjson, cyclonedx, slsaprovenance1 (cosign's --type names) or a predicate type URI")
	fs.BoolVar(&v.SBOM, "attest-files", false, "deprecated: the same as --sbom")
	fs.MarkHidden("attest-files")
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

// Attest holds the attestation flags of build and sign: what is attested
// about the image besides its signature.
type Attest struct {
	SBOM        bool
	SBOMFormat  string
	Provenance  bool
	AttestFiles bool // --attest-files, deprecated: --sbom
	// The configuration file's keys (build only), for flags not given.
	Config struct {
		SBOM, Provenance *bool
		SBOMFormat       string
	}
	provenanceFlag bool
}

// Environment variables of the attestation flags.
const (
	EnvSBOM       = "ASSETPACK_SBOM"
	EnvSBOMFormat = "ASSETPACK_SBOM_FORMAT"
	EnvProvenance = "ASSETPACK_PROVENANCE"
)

// AddFlags registers --sbom, --sbom-format, the deprecated --attest-files
// and, for a command that builds, --provenance. sbomDefault says what
// --sbom's help gives as its default.
func (a *Attest) AddFlags(fs *pflag.FlagSet, provenance bool, sbomDefault string) {
	fs.BoolVar(&a.SBOM, "sbom", false, "attach a signed SBOM of the image: every file with its sha256 and layer, as an in-toto statement cosign verify-attestation --type spdxjson (or cyclonedx) reads "+sbomDefault+"; also $"+EnvSBOM)
	fs.StringVar(&a.SBOMFormat, "sbom-format", "spdx", "SBOM format: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON); also $"+EnvSBOMFormat)
	if provenance {
		a.provenanceFlag = true
		fs.BoolVar(&a.Provenance, "provenance", false, "attach a signed SLSA provenance v1 of the build (cosign verify-attestation --type slsaprovenance1): builder version, git source and commit, options, layers (default: as --sbom); also $"+EnvProvenance)
	}
	fs.BoolVar(&a.AttestFiles, "attest-files", false, "deprecated: the same as --sbom")
	fs.MarkHidden("attest-files")
}

// DeprecatedNote is the one-line note for a command line that uses
// --attest-files, the SBOM's predecessor (build, sign, verify), or "".
func DeprecatedNote(fs *pflag.FlagSet) string {
	if !fs.Changed("attest-files") {
		return ""
	}
	return "note: --attest-files is deprecated: the file list is now the SPDX SBOM's (every file with its sha256); use --sbom"
}

// Asked reports whether the command line itself asks for an attestation
// (--sbom, --provenance, --attest-files): that asks for a signature too.
func (a *Attest) Asked(fs *pflag.FlagSet) bool {
	return (fs.Changed("sbom") && a.SBOM) || a.AttestFiles || (a.provenanceFlag && fs.Changed("provenance") && a.Provenance)
}

// Resolve says what to attest: flag > environment > configuration file >
// default. The SBOM's default is sbomDefault (build: on when signing; sign:
// off), the provenance's is the SBOM's. A bad value is an error naming
// where it came from (the caller makes it a usage error).
func (a *Attest) Resolve(fs *pflag.FlagSet, sbomDefault bool) (sbom attest.Format, provenance bool, err error) {
	on, err := pickBool(fs, "sbom", a.SBOM, EnvSBOM, a.Config.SBOM, sbomDefault)
	if err != nil {
		return "", false, err
	}
	on = on || a.AttestFiles
	if a.provenanceFlag {
		if provenance, err = pickBool(fs, "provenance", a.Provenance, EnvProvenance, a.Config.Provenance, on); err != nil {
			return "", false, err
		}
	}
	name, value := "--sbom-format", a.SBOMFormat
	switch {
	case fs.Changed("sbom-format"):
	case os.Getenv(EnvSBOMFormat) != "":
		name, value = EnvSBOMFormat, os.Getenv(EnvSBOMFormat)
	case a.Config.SBOMFormat != "":
		name, value = "sign.sbomFormat", a.Config.SBOMFormat
	}
	f, ferr := attest.ParseFormat(value)
	if ferr != nil {
		return "", false, fmt.Errorf("%s %q: want spdx or cyclonedx", name, value)
	}
	if !on {
		return "", provenance, nil
	}
	return f, provenance, nil
}

// pickBool is a boolean from its flag, its environment variable, the
// configuration file or the default, the first that is set.
func pickBool(fs *pflag.FlagSet, flag string, flagValue bool, env string, cfg *bool, def bool) (bool, error) {
	if fs.Changed(flag) {
		return flagValue, nil
	}
	if v, ok := os.LookupEnv(env); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s=%q: want true or false", env, v)
		}
		return b, nil
	}
	if cfg != nil {
		return *cfg, nil
	}
	return def, nil
}
