package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/pack"
)

// password returns COSIGN_PASSWORD when it is set (even empty), else
// prompts on a terminal; the password is never echoed or logged.
func password(stdin io.Reader, stderr io.Writer, prompt string, confirm bool) func() ([]byte, error) {
	return func() ([]byte, error) {
		if p, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
			return []byte(p), nil
		}
		f, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, usagef("%s: set COSIGN_PASSWORD (no terminal to prompt on)", prompt)
		}
		fmt.Fprintf(stderr, "%s: ", prompt)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if confirm {
			fmt.Fprint(stderr, "Enter it again: ")
			p2, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return nil, err
			}
			if string(p) != string(p2) {
				return nil, usagef("the passwords do not match")
			}
		}
		return p, nil
	}
}

// printSigned notes every digest the pipeline signed, and what it attested
// about each.
func printSigned(stderr io.Writer, res *pack.Result) {
	for _, d := range res.Signed {
		fmt.Fprintf(stderr, "signed %s\n", d)
		for _, a := range res.Attestations {
			if a.Subject != d {
				continue
			}
			what := attest.PredicateName(a.PredicateType)
			if what == "" {
				what = a.PredicateType
			}
			var where []string
			if a.Bundle != nil {
				where = append(where, "bundle "+a.Bundle.DigestStr())
			}
			if a.Legacy != nil {
				where = append(where, "legacy .att "+a.Legacy.DigestStr())
			}
			fmt.Fprintf(stderr, "  attested its %s: statement %s (%s)\n", what, a.Statement, strings.Join(where, ", "))
		}
	}
}

// oneReference requires exactly one image reference argument.
func oneReference(verb string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s needs exactly one image REFERENCE (see 'assetpack %s --help')", verb, verb)
		}
		return nil
	}
}

func newSign() *cobra.Command {
	var (
		so    options.Sign
		ro    options.Registry
		quiet bool
	)
	c := &cobra.Command{
		Use:   "sign REFERENCE",
		Short: "Sign an image in a registry with cosign (key, KMS or keyless)",
		Long: `Sign REFERENCE as cosign does. A tag is resolved once and that digest is
signed; stdout gets the signed digest reference. For an image index every
platform manifest is signed too (--recursive=false to skip).

--signature-format bundle (the default, cosign v3's format): a Sigstore
bundle (DSSE, in-toto statement) attached to the image as an OCI 1.1
referrer, through the registry's referrers API, or as the referrers tag
schema's sha256-<hex> index where the registry has no such API; read by
cosign v3 (and v2.6), Flux, Kyverno and sigstore's policy-controller.
legacy: the sha256-<hex>.sig tag that older verifiers read. both: both.

Keys: --key cosign.key (password from COSIGN_PASSWORD, or a prompt on a
terminal), or a KMS URI. Without --key signing is keyless: an OIDC identity
token (--identity-token, else found in the CI environment: SIGSTORE_ID_TOKEN,
which GitLab CI sets for 'id_tokens: {SIGSTORE_ID_TOKEN: {aud: sigstore}}';
GitHub Actions with 'permissions: id-token: write'; a Buildkite job's
buildkite-agent) gets a short-lived certificate from Fulcio, and the
signature is recorded in Rekor.

Key-based signatures are not uploaded to a transparency log unless
--tlog-upload is given: nothing contacts an address you did not name, and
'assetpack verify --key' accepts them as they are.

--sbom also attaches a signed SBOM of the image (SPDX 2.3, or CycloneDX 1.6
with --sbom-format cyclonedx): every file with its sha256 and layer, read
from the image's layers, which are downloaded for that. It is an in-toto
statement in the same format as the signature, as 'cosign attest' writes
one, and 'cosign verify-attestation --type spdxjson' (or cyclonedx) reads
it. An image signed here was not built here: it gets no provenance ('build
--sign' attaches both).`,
		Example: `  COSIGN_PASSWORD=… assetpack sign registry.example.com/web/site@sha256:… --key cosign.key
  assetpack sign registry.example.com/web/site:v42 --key cosign.key --signature-format both
  assetpack sign registry.example.com/web/site:v42 --key awskms:///alias/site --sbom
  assetpack sign registry.example.com/web/site:v42 --key cosign.key --sbom --sbom-format cyclonedx
  assetpack sign ghcr.io/acme/site@sha256:…        # keyless, in GitHub Actions, GitLab CI or Buildkite`,
		Args: oneReference("sign"),
		RunE: func(c *cobra.Command, args []string) error {
			if done, err := handOff(c); done {
				return err
			}
			ctx, stderr := c.Context(), c.ErrOrStderr()
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return err
			}
			ref, err := reg.ParseReference(args[0])
			if err != nil {
				return usageError{err}
			}
			if note := options.DeprecatedNote(c.Flags()); note != "" {
				fmt.Fprintln(stderr, note)
			}
			ss, err := signRequest(c.Flags(), so, false)
			if err != nil {
				return err
			}
			so.Resolve(c.Flags())
			s, err := newSigner(ctx, so, reg, c.InOrStdin(), stderr, quiet)
			if err != nil {
				return err
			}
			defer s.Close()
			ss.Signer = s
			res, err := pack.Run(ctx, pack.Spec{Reference: ref.String(), Registry: reg, Sign: ss})
			if err != nil {
				return err
			}
			if _, isTag := ref.(name.Tag); isTag && !quiet {
				fmt.Fprintf(stderr, "resolved %s to %s; signed that digest\n", args[0], res.Reference)
			}
			if !quiet {
				printSigned(stderr, res)
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), res.Reference)
			return err
		},
	}
	so.AddFlags(c.Flags())
	so.Attest.AddFlags(c.Flags(), false, "(default: off: listing the files downloads every layer)")
	ro.AddFlags(c.Flags())
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}

func newVerify() *cobra.Command {
	var (
		vo    options.Verify
		ro    options.Registry
		quiet bool
	)
	c := &cobra.Command{
		Use:   "verify REFERENCE",
		Short: "Verify an image's cosign signatures and attestations (SBOM, provenance)",
		Long: `Check that REFERENCE (a tag is resolved once to its digest) carries a valid
signature: by --key, or keyless by --certificate-identity and
--certificate-oidc-issuer (or their -regexp forms). Signatures are found in
both formats, whoever wrote them (assetpack, cosign v2 or v3): Sigstore
bundles attached as OCI 1.1 referrers (through the registry's referrers API,
or the referrers tag schema's sha256-<hex> index) and the legacy
sha256-<hex>.sig tag.

Exits 0 and prints the verified digest reference (--json: a report of every
signature and attestation found, where, by whom, with its log and timestamp
evidence), or exits 1 naming the digest and every place looked. The
attestations (SBOM, provenance, any other in-toto statement) are checked
with the same key or identity and listed on stderr by predicate type.

--sbom also requires a valid SBOM attestation (SPDX, else CycloneDX) and
prints its predicate, the SBOM document, on stdout instead of the
reference; --attestation-type does the same for a predicate type, given
as cosign's --type names it (spdxjson, cyclonedx, slsaprovenance1) or as
a URI. Without one, verify exits 1.

With --key, the key's signature suffices (what 'assetpack sign --key'
writes by default has no log entry); a log entry is checked when
--trusted-root is given, and required with --require-tlog. Keyless, a
signature needs a transparency-log entry or a signed timestamp, checked
against --trusted-root, else against the public-good Sigstore root fetched
through its TUF repository (cached in the user cache directory).`,
		Example: `  assetpack verify registry.example.com/web/site:v42 --key cosign.pub
  assetpack verify REF --key cosign.pub --json | jq '.signatures[] | {format, found, digest}'
  assetpack verify REF --key cosign.pub --sbom > sbom.spdx.json
  assetpack verify REF --key cosign.pub --attestation-type slsaprovenance1 | jq .runDetails.builder
  assetpack verify REF --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com`,
		Args: oneReference("verify"),
		RunE: func(c *cobra.Command, args []string) error {
			if done, err := handOff(c); done {
				return err
			}
			return runVerify(c, args[0], vo, ro, quiet)
		},
	}
	vo.AddFlags(c.Flags())
	ro.AddFlags(c.Flags())
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}

// attestationTypes are the predicate types verify must find one valid
// attestation of (the first found is printed): --sbom's SPDX or CycloneDX,
// or --attestation-type's.
func attestationTypes(vo options.Verify) ([]string, error) {
	switch {
	case vo.SBOM && vo.AttestType != "":
		return nil, usagef("--sbom and --attestation-type each print one predicate: give one of them")
	case vo.SBOM:
		return []string{attest.SPDXPredicateType, attest.CycloneDXPredicateType}, nil
	case vo.AttestType != "":
		t, err := attest.ParsePredicateType(vo.AttestType)
		if err != nil {
			return nil, usagef("--attestation-type %q: want spdxjson, cyclonedx, slsaprovenance1 (or another of cosign's --type names) or a predicate type URI", vo.AttestType)
		}
		return []string{t}, nil
	}
	return nil, nil
}

// attestationName names a predicate type for people.
func attestationName(t string) string {
	if n := attest.PredicateName(t); n != "" {
		return n
	}
	return t
}

func newGenerateKeyPair() *cobra.Command {
	var (
		prefix string
		force  bool
	)
	c := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Create a cosign-compatible key pair (cosign.key, cosign.pub)",
		Long: `Write PREFIX.key, an encrypted ECDSA P-256 private key (mode 0600), and
PREFIX.pub, in cosign's formats: both cosign and assetpack sign and verify
with them. The password comes from COSIGN_PASSWORD, or is asked twice on a
terminal. Existing files are kept unless --force.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if done, err := handOff(c); done {
				return err
			}
			pass, err := password(c.InOrStdin(), c.ErrOrStderr(), "Password for the new private key", true)()
			if err != nil {
				return err
			}
			priv, pub, err := generateKeyPair(prefix, pass, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote the private key to %s (keep it secret) and the public key to %s\n", priv, pub)
			_, err = fmt.Fprintln(c.OutOrStdout(), pub)
			return err
		},
	}
	c.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	c.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return c
}
