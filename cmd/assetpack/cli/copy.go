package cli

import (
	"context"
	"encoding/json"

	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

func newCopy() *cobra.Command {
	var (
		vo         options.Verify
		ro         options.Registry
		requireSig bool
		asJSON     bool
		quiet      bool
	)
	c := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Promote an image by digest to another repository or registry, with its signatures, attestations and SBOMs",
		Long: `Copy SRC (a tag is resolved once, or a digest) to DST (a repository, or
REPOSITORY:TAG) with the same digest, and everything that refers to it:
Sigstore bundle signatures and attestations, SBOMs and other OCI 1.1
referrers (of the image, of an index's platform manifests, and of the
referrers themselves), whether the source keeps them through the referrers
API or the sha256-<hex> tag-schema index, and cosign's legacy .sig, .att and
.sbom tags. In DST, referrers are listed by its referrers API, or in
tag-schema indexes merged with any already there. Within one registry, blobs
are mounted from SRC's repository; between registries they are streamed.
Every digest is checked.

Tags are written last: if DST refuses something half-way, no tag there points
at an incomplete set, and the error lists what was copied (by digest).

--require-signature verifies SRC first, with --key or the keyless identity
flags (as assetpack verify does), and refuses to copy what does not verify.
stdout gets DST by digest, like build.`,
		Example: `  assetpack copy registry.example.com/staging/site:v42 registry.example.com/prod/site:v42
  assetpack copy staging.example.com/web/site@sha256:… prod.example.com/web/site:v42 --require-signature --key cosign.pub
  assetpack copy SRC DST --require-signature \
      --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("copy needs a source and a destination, SRC DST (see 'assetpack copy --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if requireSig {
				if done, err := handOff(c); done {
					return err
				}
			}
			ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return err
			}
			src, err := reg.ParseReference(args[0])
			if err != nil {
				return usageError{err}
			}
			dst, tag, err := parseDestination(reg, args[1])
			if err != nil {
				return err
			}
			var check func(context.Context, name.Digest) (int, error)
			if requireSig {
				if check, err = newSignatureCheck(ctx, vo, reg); err != nil {
					return err
				}
			} else if vo.Key != "" || vo.Identity != "" || vo.IdentityRegexp != "" {
				return usagef("--key and the identity flags say whose signature to require: add --require-signature")
			}
			d, err := reg.Resolve(ctx, src)
			if err != nil {
				return err
			}
			if check != nil {
				n, err := check(ctx, d)
				if err != nil {
					return fmt.Errorf("refusing to copy %s: %w", d, err)
				}
				if !quiet {
					fmt.Fprintf(stderr, "verified %s: %d valid signature(s)\n", d, n)
				}
			}
			res, err := reg.Copy(ctx, d, dst, tag)
			if err != nil {
				return err
			}
			if !quiet {
				printCopied(stderr, res)
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Source      string `json:"source"`
					Destination string `json:"destination"`
					*publish.CopyResult
				}{res.Source.String(), res.Destination.String(), res})
			}
			_, err = fmt.Fprintln(stdout, res.Destination)
			return err
		},
	}
	vo.AddTrustFlags(c.Flags())
	ro.AddFlags(c.Flags())
	c.Flags().BoolVar(&requireSig, "require-signature", false, "verify SRC first (--key, or --certificate-identity and --certificate-oidc-issuer) and refuse to copy it unless it has a valid signature")
	c.Flags().BoolVar(&asJSON, "json", false, "print what was copied as JSON")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}

// parseDestination reads DST: a repository (copy by digest only) or a tag.
func parseDestination(reg *publish.Registry, s string) (name.Repository, string, error) {
	ref, err := reg.ParseReference(s)
	if err != nil {
		return name.Repository{}, "", usageError{err}
	}
	if _, ok := ref.(name.Digest); ok {
		return name.Repository{}, "", usagef("destination %q: give a repository or REPOSITORY:TAG; the digest is the source's", s)
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if t, ok := ref.(name.Tag); ok && strings.Contains(last, ":") {
		return t.Context(), t.TagStr(), nil
	}
	return ref.Context(), "", nil
}

// printCopied tells what a copy did.
func printCopied(w io.Writer, res *publish.CopyResult) {
	kinds := map[string]int{}
	for _, c := range res.Copied {
		kinds[c.Kind]++
	}
	fmt.Fprintf(w, "copied %s to %s with %d referrer(s) (%d referrer manifest(s), %d legacy tag(s)); %d blob(s) mounted, %d already there, %s sent\n",
		res.Source, res.Destination, res.Referrers, kinds["referrer"], kinds["legacy tag"], res.MountedBlobs, res.SkippedBlobs, humanBytes(res.SentBytes))
	if res.Tag != "" {
		fmt.Fprintf(w, "tagged %s\n", res.Tag)
	}
}
