package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/unpack"
)

// verifyFlagsForPull adds verify's flags but the attestation ones to fs,
// for pull --require-signature, and returns their names.
func verifyFlagsForPull(fs *pflag.FlagSet, vo *options.Verify) []string {
	vfs := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	vo.AddFlags(vfs)
	var names []string
	vfs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "attest-files" || f.Name == "sbom" || f.Name == "attestation-type" {
			return
		}
		f.Usage = "with --require-signature: " + f.Usage
		fs.AddFlag(f)
		names = append(names, f.Name)
	})
	return names
}

func newPull() *cobra.Command {
	var (
		ro         options.Registry
		vo         options.Verify
		output     string
		platform   string
		subPath    string
		force      bool
		requireSig bool
		quiet      bool
		verifyBy   []string // the verification flags' names
	)
	c := &cobra.Command{
		Use:   "pull REF (DIR | --output tar:FILE)",
		Short: "Write an image's files into a directory (or one tar file), as a Pod sees them",
		Long: `Write the files of REF — a registry tag or digest, an OCI layout (oci:DIR, with
an optional @sha256:HEX) or an OCI archive (tar:FILE) — into DIR, as a
container runtime shows them when it mounts the image as a volume: layers in
order, whiteouts and opaque directories applied, with modes (exec bits),
symlinks, hard links, empty directories and the modification times of the
layers. --output tar:FILE writes the same tree as one deterministic tar file
instead. stdout gets the digest reference that was pulled (a tag is resolved
once); notes go to stderr.

Every blob is verified before anything is written: each layer's bytes against
the manifest's digest, its tar against the config's diff_id. The tree is
written beside DIR and renamed into place at the end, so a failure leaves DIR
as it was. DIR must be new or empty; --force replaces it (in one step on
Linux).

Nothing is written outside DIR: entries with absolute or ".." names, hard
links to them, symlinks that resolve outside DIR (absolute ones included) and
entries below a symlink are refused; device nodes and FIFOs are skipped and
setuid, setgid and sticky bits cleared, each with a note. Owners are not
applied: the files belong to you.

From an image index, --platform picks the image (default linux/amd64 if the
index has it, else its only image). --sub-path writes only one directory of
the image, as a Pod mounting the volume with subPath sees it.
--require-signature first checks the cosign signature of a registry image,
with verify's flags (--key, or --certificate-identity and
--certificate-oidc-issuer).

Exit codes: 0 pulled, 1 failed (unreachable, missing tag, bad signature,
corrupt or hostile image), 2 bad usage (flags, a DIR that is not empty).`,
		Example: `  assetpack build examples/site && assetpack pull oci:assetpack-out/site site-copy
  assetpack pull oci:assetpack-out/site --output tar:site.tar --force
  assetpack pull ghcr.io/acme/site-assets:v42 ./v42 --platform linux/arm64 --sub-path site
  assetpack pull ghcr.io/acme/site-assets:v42 ./v42 --force --require-signature --key cosign.pub --insecure-ignore-tlog`,
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0 || len(args) > 2:
				return usagef("pull needs an image REF and a directory DIR, or REF --output tar:FILE (see 'assetpack pull --help')")
			case len(args) == 1 && output == "":
				return usagef("pull needs a directory DIR to write %s into, or --output tar:FILE", args[0])
			case len(args) == 2 && output != "":
				return usagef("give either a directory DIR (%q) or --output %q, not both", args[1], output)
			case output != "" && !strings.HasPrefix(output, "tar:"):
				return usagef("--output %q: pull writes tar:FILE (or give a directory DIR)", output)
			case output == "tar:":
				return usagef("--output tar: needs a file name, as in tar:site.tar")
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
			note := func(format string, a ...any) {
				if !quiet {
					fmt.Fprintf(stderr, format+"\n", a...)
				}
			}
			var plat *v1.Platform
			if platform != "" {
				ps, err := builder.ParsePlatforms([]string{platform})
				if err != nil {
					return usageError{err}
				}
				if len(ps) != 1 {
					return usagef("--platform takes one platform (os/arch[/variant]), got %q", platform)
				}
				plat = &ps[0]
			}
			local := hasLocalPrefix(args[0])
			if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() && !local {
				return usagef("%q is a directory; pull reads an image: REGISTRY/REPOSITORY:TAG, oci:DIR or tar:FILE", args[0])
			}
			for _, name := range verifyBy {
				if c.Flags().Changed(name) && !requireSig {
					return usagef("--%s checks a signature only with --require-signature; add it", name)
				}
			}
			if requireSig && local {
				return usagef("--require-signature checks signatures in a registry; %s is a local image", args[0])
			}
			opts := []unpack.Option{unpack.WithReplace(force), unpack.WithSubPath(subPath)}
			if !quiet {
				opts = append(opts, unpack.WithNotes(func(s string) { fmt.Fprintln(stderr, s) }))
			}
			toTar := strings.HasPrefix(output, "tar:")
			dst := strings.TrimPrefix(output, "tar:")
			check := unpack.CheckTar
			if !toTar {
				dst, check = args[1], unpack.CheckDir
			}
			if err := check(dst, opts...); err != nil { // before anything is downloaded
				return usageError{err}
			}
			reg, _, err := newRegistry(ro, quiet, stderr)
			if err != nil {
				return err
			}
			o, err := openImage(ctx, args[0], reg, nil)
			if err != nil {
				return err
			}
			defer o.cleanup()
			ref := o.ref
			if o.digest != nil {
				ref = o.digest.String()
				if !strings.Contains(args[0], "@") {
					note("resolved %s to %s", args[0], ref)
				}
			} else if d, err := o.art.Digest(); err == nil {
				base, _, _ := strings.Cut(o.ref, "@")
				ref = base + "@" + d.String()
			}
			if requireSig {
				check, err := newSignatureCheck(ctx, vo, reg)
				if err != nil {
					return usageError{err}
				}
				n, err := check(ctx, *o.digest)
				if err != nil {
					return err
				}
				note("verified %s: %d valid signature(s)", ref, n)
			}
			img, err := unpack.Select(o.art, plat)
			if err != nil {
				if errors.Is(err, unpack.ErrPlatform) {
					return usageError{err}
				}
				return err
			}
			d, _ := img.Digest()
			cf, _ := img.ConfigFile()
			switch {
			case cf == nil:
			case img != o.art:
				note("picked the %s image %s of the index", cf.Platform(), d)
			case plat != nil && cf.Platform() != nil && !cf.Platform().Satisfies(*plat):
				note("%s is a single image (for %s), not an index: --platform %s does not apply; a runtime mounts it on any platform", ref, cf.Platform(), plat)
			}
			var res *unpack.Result
			if toTar {
				res, err = unpack.ToTar(ctx, img, dst, opts...)
			} else {
				res, err = unpack.ToDir(ctx, img, dst, opts...)
			}
			if errors.Is(err, unpack.ErrExists) || errors.Is(err, unpack.ErrInvalidOption) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if output != "" {
				dst = output
			}
			note("wrote %s (%s)", dst, pullSummary(res))
			_, err = fmt.Fprintln(stdout, ref)
			return err
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write one tar file (tar:FILE) instead of a directory DIR")
	c.Flags().StringVar(&platform, "platform", "", "os/arch[/variant] of the image to pick from an index (default linux/amd64 if the index has it, else its only image)")
	c.Flags().StringVar(&subPath, "sub-path", "", "write only this directory of the image (what a Pod mounting the volume with subPath sees), such as the --prefix it was built with")
	c.Flags().BoolVar(&force, "force", false, "replace a DIR (or tar FILE) that is not empty")
	c.Flags().BoolVar(&requireSig, "require-signature", false, "pull only a registry image with a valid cosign signature (checked with --key, or keyless with --certificate-identity and --certificate-oidc-issuer)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	verifyBy = verifyFlagsForPull(c.Flags(), &vo)
	ro.AddFlags(c.Flags())
	return c
}

func hasLocalPrefix(s string) bool {
	for _, p := range []string{"oci:", "tar:", "oci-layout:", "oci-archive:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func pullSummary(r *unpack.Result) string {
	s := fmt.Sprintf("%d files, %s", r.Files, humanBytes(r.Bytes))
	if r.HardLinks > 0 {
		s += fmt.Sprintf(" (%d hard links)", r.HardLinks)
	}
	return s + fmt.Sprintf(", %d directories, %d symlinks", r.Dirs, r.Symlinks)
}
