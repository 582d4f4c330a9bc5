package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/sign/cosign"
)

// password returns COSIGN_PASSWORD when it is set (even empty), else
// prompts on a terminal; the password is never echoed or logged.
func password(stdin io.Reader, stderr io.Writer, prompt string, confirm bool) cosign.PassFunc {
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

// newSigner builds a key-based or keyless signer from flags.
func newSigner(ctx context.Context, so options.Sign, reg *publish.Registry, stdin io.Reader, stderr io.Writer, quiet bool) (*cosign.Signer, error) {
	opts := []cosign.Option{cosign.WithRemoteOptions(reg.RemoteOptions(ctx)...)}
	if so.Key != "" {
		if w := cosign.KeyFileWarning(so.Key); w != "" && !quiet {
			fmt.Fprintln(stderr, w)
		}
		if so.TlogUpload {
			opts = append(opts, cosign.WithTlogUpload(so.RekorURL))
		}
		return cosign.NewKeySigner(ctx, so.Key, password(stdin, stderr, "Password for "+so.Key, false), opts...)
	}
	tok := so.IdentityToken
	if tok == "" {
		var err error
		if tok, err = sign.DiscoverIDToken(ctx); err != nil {
			return nil, err
		}
	}
	if !quiet {
		fmt.Fprintf(stderr, "keyless signing: certificate from %s, signature recorded in %s\n", so.FulcioURL, so.RekorURL)
	}
	return cosign.NewKeylessSigner(ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: so.FulcioURL, RekorURL: so.RekorURL}, opts...)
}

// printSigned notes every digest the pipeline signed (and attested).
func printSigned(stderr io.Writer, res *pack.Result) {
	attested := map[string]bool{}
	for _, d := range res.Attested {
		attested[d.String()] = true
	}
	for _, d := range res.Signed {
		if attested[d.String()] {
			fmt.Fprintf(stderr, "signed and attested the files of %s\n", d)
		} else {
			fmt.Fprintf(stderr, "signed %s\n", d)
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
		Long: `Sign REFERENCE with a cosign-compatible signature (the sha256-<hex>.sig tag,
verified by the cosign v2 and v3 CLIs). A tag is resolved once and that
digest is signed; stdout gets the signed digest reference. For an image index
every platform manifest is signed too (--recursive=false to skip).

Keys: --key cosign.key (password from COSIGN_PASSWORD, or a prompt on a
terminal), or a KMS URI. Without --key signing is keyless: an OIDC identity
token (--identity-token, $SIGSTORE_ID_TOKEN, or GitHub Actions' token with
'permissions: id-token: write') gets a short-lived certificate from Fulcio,
and the signature is recorded in Rekor.

Key-based signatures are not uploaded to a transparency log unless
--tlog-upload is given: nothing contacts an address you did not name.`,
		Example: `  COSIGN_PASSWORD=… assetpack sign registry.example.com/web/site@sha256:… --key cosign.key
  assetpack sign registry.example.com/web/site:v42 --key awskms:///alias/site --attest-files
  assetpack sign ghcr.io/acme/site@sha256:…        # keyless, in GitHub Actions`,
		Args: oneReference("sign"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stderr := c.Context(), c.ErrOrStderr()
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return err
			}
			ref, err := reg.ParseReference(args[0])
			if err != nil {
				return usageError{err}
			}
			s, err := newSigner(ctx, so, reg, c.InOrStdin(), stderr, quiet)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := pack.Run(ctx, pack.Spec{Reference: ref.String(), Registry: reg,
				Sign: &pack.Sign{Signer: s, Recursive: so.Recursive, AttestFiles: so.AttestFiles}})
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
		Short: "Verify an image's cosign signatures (and attestations)",
		Long: `Check that REFERENCE (a tag is resolved once to its digest) carries a valid
cosign signature: by --key, or keyless by --certificate-identity and
--certificate-oidc-issuer. Exits 0 and prints the verified digest reference,
or exits 1 naming what failed. Transparency-log proofs and keyless
certificates are checked against --trusted-root (a Sigstore trusted_root.json);
signatures made offline (--tlog-upload=false) need --insecure-ignore-tlog.
assetpack never fetches trust roots from the network by itself.`,
		Example: `  assetpack verify registry.example.com/web/site:v42 --key cosign.pub --insecure-ignore-tlog
  assetpack verify REF --key cosign.pub --insecure-ignore-tlog --attest-files > files.json
  assetpack verify REF --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json`,
		Args: oneReference("verify"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stderr := c.Context(), c.ErrOrStderr()
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return err
			}
			ref, err := reg.ParseReference(args[0])
			if err != nil {
				return usageError{err}
			}
			v, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{
				KeyRef: vo.Key, Identity: vo.Identity, IdentityRegexp: vo.IdentityRegexp,
				Issuer: vo.Issuer, IssuerRegexp: vo.IssuerRegexp, TrustedRoot: vo.TrustedRoot, IgnoreTlog: vo.IgnoreTlog,
			}, cosign.WithRemoteOptions(reg.RemoteOptions(ctx)...))
			if err != nil {
				return usageError{err}
			}
			d, err := reg.Resolve(ctx, ref)
			if err != nil {
				return err
			}
			n, err := v.VerifyCount(ctx, d)
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(stderr, "verified %s: %d valid signature(s)\n", d, n)
			}
			attType := vo.AttestType
			if vo.AttestFiles {
				attType = sign.FilesPredicateType
			}
			if attType != "" {
				pred, err := v.VerifyAttestation(ctx, d, attType)
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(stderr, "verified the %s attestation of %s\n", attType, d)
				}
				_, err = fmt.Fprintf(c.OutOrStdout(), "%s\n", pred)
				return err
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), d)
			return err
		},
	}
	vo.AddFlags(c.Flags())
	ro.AddFlags(c.Flags())
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
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
			pass, err := password(c.InOrStdin(), c.ErrOrStderr(), "Password for the new private key", true)()
			if err != nil {
				return err
			}
			priv, pub, err := cosign.GenerateKeyPair(prefix, pass, force)
			if err != nil {
				if errors.Is(err, cosign.ErrKey) {
					return usageError{err}
				}
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
