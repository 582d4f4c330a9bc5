package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/internal/atomicfile"
	"github.com/assetpack/assetpack/policy"
)

// policyFlags are the flags of assetpack policy.
type policyFlags struct {
	format, name, action, signatures string
	images                           []string
	key                              string
	identity, identityRegexp         string
	issuer, issuerRegexp             string
	rekorURL, rekorKey, ctlogKey     string
	ignoreSCT                        bool
	output                           string
}

func (f *policyFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.format, "format", string(policy.Kyverno), "kyverno (a kyverno.io/v1 ClusterPolicy) or policy-controller (a policy.sigstore.dev/v1beta1 ClusterImagePolicy)")
	options.StringArrayVar(fs, &f.images, "image", nil, "image reference pattern the policy covers, such as 'registry.example.com/web/*' (repeatable; required)")
	fs.StringVar(&f.key, "key", "", "cosign public key file (cosign.pub) the signatures must verify with")
	fs.StringVar(&f.identity, "certificate-identity", "", "keyless: the signer identity (e.g. https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main)")
	fs.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless: the signer identity as a regular expression")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer (e.g. https://token.actions.githubusercontent.com)")
	fs.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: the OIDC issuer as a regular expression")
	fs.StringVar(&f.name, "name", policy.DefaultName, "metadata.name of the policy")
	fs.StringVar(&f.action, "action", string(policy.Enforce), "Enforce (reject the object) or Audit (admit it and report)")
	fs.StringVar(&f.signatures, "signature-format", "", "bundle (the Sigstore bundle referrer: assetpack's and cosign v3's default) or legacy (the sha256-<hex>.sig tag: cosign v2); default bundle where the controller checks bundles from this signer, else legacy with a warning")
	fs.StringVar(&f.rekorURL, "rekor-url", "", "with --key: require an entry in this Rekor log (signed with --tlog-upload); keyless: the log (default "+policy.DefaultRekorURL+")")
	fs.StringVar(&f.rekorKey, "rekor-public-key", "", "PEM public key file of a private Rekor log (kyverno only)")
	fs.StringVar(&f.ctlogKey, "ctlog-public-key", "", "keyless: PEM public key file of a private certificate transparency log (kyverno only)")
	fs.BoolVar(&f.ignoreSCT, "insecure-ignore-sct", false, "keyless: accept certificates without an embedded SCT (private Fulcio without a CT log)")
	fs.StringVarP(&f.output, "output", "o", "", "write the policy to this file instead of stdout")
}

// readPEM reads a key file named by a flag.
func readPEM(flag, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("reading %s %q: %v", flag, path, err)
	}
	if len(b) == 0 {
		return nil, usagef("%s %q is empty: expected a PEM public key (-----BEGIN PUBLIC KEY-----)", flag, path)
	}
	return b, nil
}

// spec turns the flags into a policy.Spec. Errors are usage errors; those
// about combinations of flags name them here.
func (f *policyFlags) spec() (policy.Spec, error) {
	format, err := policy.ParseFormat(f.format)
	if err != nil {
		return policy.Spec{}, invalidPolicy(err)
	}
	keyless := f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
	switch {
	case len(f.images) == 0:
		return policy.Spec{}, usagef("--image is required: name the images whose volumes must be signed, e.g. --image 'registry.example.com/web/*'")
	case f.key != "" && keyless:
		return policy.Spec{}, usagef("--key and --certificate-identity/--certificate-oidc-issuer both given: a policy checks key-based or keyless signatures; choose one")
	case f.key == "" && !keyless:
		return policy.Spec{}, usagef("no signer: pass --key cosign.pub, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] for keyless signatures")
	case f.key != "" && (f.ctlogKey != "" || f.ignoreSCT):
		return policy.Spec{}, usagef("--ctlog-public-key and --insecure-ignore-sct are for keyless signatures: a key's signatures carry no certificate")
	case f.rekorKey != "" && f.rekorURL == "":
		return policy.Spec{}, usagef("--rekor-public-key needs --rekor-url: name the private log the key belongs to")
	}
	s := policy.Spec{Format: format, Name: f.name, Images: f.images,
		Action: policy.Action(f.action), Signatures: policy.SignatureFormat(f.signatures)}
	if s.PublicKey, err = readPEM("--key", f.key); err != nil {
		return s, err
	}
	if keyless {
		s.Keyless = &policy.Keyless{Subject: f.identity, SubjectRegexp: f.identityRegexp,
			Issuer: f.issuer, IssuerRegexp: f.issuerRegexp, IgnoreSCT: f.ignoreSCT}
		if s.Keyless.CTLogPublicKey, err = readPEM("--ctlog-public-key", f.ctlogKey); err != nil {
			return s, err
		}
	}
	if f.rekorURL != "" {
		s.Tlog = &policy.Tlog{URL: f.rekorURL}
		if s.Tlog.PublicKey, err = readPEM("--rekor-public-key", f.rekorKey); err != nil {
			return s, err
		}
	}
	return s, nil
}

// invalidPolicy marks the library's complaints about a request as usage
// errors (exit 2); withFlagAdvice names the flags in them.
func invalidPolicy(err error) error {
	if errors.Is(err, policy.ErrInvalid) {
		return usageError{err}
	}
	return err
}

func newPolicy() *cobra.Command {
	f := &policyFlags{}
	c := &cobra.Command{
		Use:   "policy",
		Short: "Write an admission policy that requires signed image volumes (Kyverno or sigstore policy-controller)",
		Long: `Write a cluster-wide admission policy that admits a Pod, or a workload's pod
template, only if every image volume (volumes[].image.reference) matching an
--image pattern carries a valid cosign signature: by --key, or keyless by
--certificate-identity and --certificate-oidc-issuer. Apply it with
kubectl apply -f. Nothing is contacted: the policy is only written.

Formats:
  kyverno            a kyverno.io/v1 ClusterPolicy (Kyverno ≥ 1.13). Kyverno's
                     default image extraction sees containers only; this
                     policy's imageExtractors read the volumes of Pods,
                     Deployments, StatefulSets, DaemonSets, ReplicaSets,
                     ReplicationControllers, Jobs and CronJobs, and check only
                     those (autogen is off: it would drop the extractors).
                     With Enforce, a tag is replaced by the verified digest.
  policy-controller  a policy.sigstore.dev/v1beta1 ClusterImagePolicy. The
                     controller decides what it reads: v0.15.1 (the latest
                     release) and earlier check container images only and
                     admit unsigned image volumes; image volumes are checked
                     from sigstore/policy-controller#1976 (June 2026) on. The
                     policy is still written, with a warning. It applies in
                     namespaces labelled policy.sigstore.dev/include=true.

Signatures: a policy accepts one format. --signature-format bundle accepts
the Sigstore bundle referrer that assetpack sign and cosign v3 write by
default; legacy accepts the sha256-<hex>.sig tag of cosign v2 and of
'assetpack sign --signature-format legacy' (or both). The default is bundle
wherever the controller can check a bundle: Kyverno always, except with a
private Rekor or CT log; the policy-controller only keyless (it checks
bundles for keyless authorities only). Elsewhere it is legacy, with a
warning: sign those images with --signature-format both. With --key no
transparency-log entry is required (assetpack signs without one unless
--tlog-upload) unless --rekor-url names the log; keyless signatures are
checked against the public Sigstore roots and Rekor.

Patterns: Kyverno's '*' matches any characters, '/' included; the
policy-controller's '*' stops at '/' and '**' crosses it.`,
		Example: `  assetpack policy --image 'registry.example.com/web/*' --key cosign.pub > policy.yaml
  assetpack policy --format kyverno --image 'ghcr.io/acme/*' \
      --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com -o policy.yaml
  assetpack policy --format policy-controller --image 'ghcr.io/acme/**' \
      --certificate-identity-regexp '^https://github.com/acme/' \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  assetpack policy --format policy-controller --image 'registry.example.com/web/**' --key cosign.pub \
      -o policy.yaml   # legacy signatures: sign with --signature-format both
  assetpack policy --image 'registry.example.com/web/*' --key cosign.pub --action Audit --name web-assets-audit`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := f.spec()
			if err != nil {
				return err
			}
			r, err := policy.Render(s)
			if err != nil {
				return invalidPolicy(err)
			}
			stderr := c.ErrOrStderr()
			for _, w := range r.Warnings {
				w = strings.Replace(w, "sign the images in the legacy or both signature format",
					"sign the images with assetpack sign --signature-format both (or legacy)", 1)
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			if f.output == "" {
				_, err = c.OutOrStdout().Write(r.YAML)
				return err
			}
			if err := atomicfile.Write(f.output, r.YAML, 0o644); err != nil {
				return fmt.Errorf("writing -o %q: %w", f.output, err)
			}
			fmt.Fprintf(stderr, "wrote %s (%s); apply it with kubectl apply -f %s\n", f.output, kindOf(s.Format), f.output)
			return nil
		},
	}
	f.addFlags(c.Flags())
	return c
}

func kindOf(f policy.Format) string {
	if f == policy.PolicyController {
		return "ClusterImagePolicy"
	}
	return "ClusterPolicy"
}
