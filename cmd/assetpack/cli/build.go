package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/config"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/sign/cosign"
)

func newBuild() *cobra.Command {
	var (
		bo          options.Build
		to          options.Tags
		ro          options.Registry
		out         options.Output
		po          options.Patch
		patchOut    string
		patchFormat string
		kustomize   string
		patchFile   string
		so          options.Sign
		signImage   bool
		configFile  string
	)
	c := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Pack a directory into a deterministic OCI image, and push it",
		Long: `Pack DIR into a FROM-scratch OCI image whose digest depends only on the files
(names, bytes, exec bits, symlinks) and the options, never on mtimes, umask,
owners, creation order, time zone or locale.

Without --push the image is written as an OCI image layout to --output
(default ./` + options.DefaultOutputDir + `/<name of DIR>) and stdout gets oci:PATH@sha256:...
With --push it is uploaded to every -t tag (no Docker daemon needed) and
stdout gets REGISTRY/REPOSITORY@sha256:...; --output then also writes it locally.
--json prints a JSON object instead.`,
		Example: `  assetpack build ./site
  assetpack build ./site --output tar:site.tar --prefix site
  assetpack build ./model --prefix /model --compression zstd --json
  assetpack build ./site -t ghcr.io/acme/site-assets:v42 -t ghcr.io/acme/site-assets:latest --push
  ref=$(assetpack build ./site -t registry.example.com/web/site-assets:v42 --push)
  assetpack build ./site --prefix site -t REPO:v42 --push --patch-out k8s/assets-patch.yaml \
      --workload deployment/web --container nginx --mount-path /usr/share/nginx/html
  assetpack build ./site -t REPO:v42 --push --kustomize k8s/assets --workload deployment/web --mount-path /srv`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("build needs exactly one directory, got %d arguments (see 'assetpack build --help')", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
			cfg, err := loadConfig(configFile, len(args) == 0)
			if err != nil {
				return err
			}
			var src string
			switch {
			case len(args) == 1:
				src = args[0]
			case cfg != nil:
				src = cfg.Resolve(cfg.Source)
				if cfg.Source == "" {
					src = cfg.Dir
				}
				if !out.Quiet {
					fmt.Fprintf(stderr, "using %s\n", cfg.Path)
				}
			default:
				return usagef("build needs a directory, or an %s in the current directory ('assetpack config init' writes one)", config.FileName)
			}
			if cfg != nil {
				if err := applyConfig(c, cfg, &bo, &to, &so, &signImage, &po, &patchOut, &patchFormat, &kustomize, &patchFile); err != nil {
					return err
				}
			}
			opts, err := bo.BuilderOptions()
			if err != nil {
				return err
			}
			if to.Push && len(to.Tags) == 0 {
				return usagef("--push needs at least one -t REGISTRY/REPOSITORY:TAG")
			}
			if !to.Push && len(to.Tags) > 0 {
				return usagef("-t names where to push: add --push (or drop -t to only build locally)")
			}
			var patches []patchRequest
			if patchFile == "-" {
				return usagef("build -f needs a file: stdin is not read by build")
			}
			if patchOut != "" || kustomize != "" {
				if !to.Push {
					return usagef("--patch-out and --kustomize pin the pushed digest: add -t REPO:TAG --push")
				}
				if !c.Flags().Changed("sub-path") && bo.Prefix != "" {
					po.SubPath = strings.Trim(bo.Prefix, "/")
				}
				if patchOut != "" {
					f, err := kube.ParseFormat(patchFormat)
					if err != nil {
						return err
					}
					if f == kube.Kustomize {
						return usagef("use --kustomize DIR for a Kustomize Component; --patch-format is strategic, json6902 or pod")
					}
					patches = append(patches, patchRequest{format: f, opts: po, file: patchFile, output: patchOut, quiet: out.Quiet})
				}
				if kustomize != "" {
					patches = append(patches, patchRequest{format: kube.Kustomize, opts: po, file: patchFile, output: kustomize, quiet: out.Quiet})
				}
				// Check the mount flags before building and pushing anything.
				for _, p := range patches {
					if err := p.check(c.InOrStdin()); err != nil {
						return err
					}
				}
			}
			reg, finish, err := newRegistry(ro, out.Quiet, stderr)
			if err != nil {
				return err
			}
			tags, err := parseTags(reg, to.Tags)
			if err != nil {
				return err
			}
			// Load the key (and check its password) before building and pushing.
			var signer *cosign.Signer
			if signImage || so.AttestFiles {
				if !to.Push {
					return usagef("--sign signs the pushed digest: add -t REPO:TAG --push")
				}
				s, err := newSigner(ctx, so, reg, c.InOrStdin(), stderr, out.Quiet)
				if err != nil {
					return err
				}
				defer s.Close()
				signer = s
			}

			// Where the layer blobs go: next to the local output (so they can
			// be hard-linked into it), or a temporary directory when only pushing.
			var local *publish.Output
			if !to.Push || bo.Output != "" {
				t, err := bo.Target(src)
				if err != nil {
					return err
				}
				if local, err = publish.NewOutput(t); err != nil {
					return err
				}
				defer local.Close()
				opts = append(opts, builder.WithWorkDir(local.WorkDir()), builder.WithSkipPaths(local.SkipPaths()...),
					builder.WithReuseDir(local.ReuseDir()))
			}
			// Only pushing: uncompressed layers need not be written to disk
			// first; the registry reads them from the files.
			opts = append(opts, builder.WithDeferredLayers(local == nil))
			// Upload each layer as soon as it is built, while the others are
			// still being compressed and hashed; a deferred layer starts
			// uploading while it is being hashed.
			var up *publish.Uploader
			if to.Push {
				if up, err = reg.NewUploader(ctx, tags); err != nil {
					return err
				}
				defer up.Abort() // no-op after Push; stops uploads on any error
				opts = append(opts, builder.WithLayerDone(func(l *builder.Layer) { up.Add(l) }))
				if local == nil {
					opts = append(opts, builder.WithLayerStart(func(l *builder.Layer, open func() io.ReadCloser) { up.Start(l, open) }))
				}
			}
			res, err := builder.Build(ctx, src, opts...)
			if err != nil {
				return err
			}
			defer res.Close()
			warnCache(stderr, out.Quiet, res)

			ref := ""
			if local != nil {
				t := local.Target()
				if err := local.Write(ctx, res.Artifact(), "latest"); err != nil {
					return fmt.Errorf("writing %s: %w", t, err)
				}
				if err := local.Commit(); err != nil {
					return err
				}
				ref = fmt.Sprintf("%s@%s", t, res.Digest)
				if !out.Quiet {
					fmt.Fprintf(stderr, "wrote %s (%s)\n", t, summary(res))
				}
			}
			j := newBuildJSON(ref, res)
			if local != nil {
				j.Output = local.Target().String()
			}
			var pushed *publish.PushResult
			if to.Push {
				pushed, err = up.Push(ctx, res.Artifact(), tags)
				finish()
				if err != nil {
					return err
				}
				ref = pushed.Refs[0].String()
				j.Reference = ref
				j.Push = newPushJSON(pushed)
				if !out.Quiet {
					fmt.Fprintf(stderr, "built %s; %s\n", summary(res), pushSummary(pushed))
				}
			}
			if signer != nil {
				var files *sign.FilesPredicate
				if so.AttestFiles {
					if files, err = filesOf(res.Artifact()); err != nil {
						return err
					}
				}
				for _, d := range pushed.Refs { // one per repository pushed to
					var kids []name.Digest
					if so.Recursive {
						kids = childManifests(d, res.Artifact())
					}
					if err := signTargets(ctx, signer, d, kids, files, stderr, out.Quiet); err != nil {
						return fmt.Errorf("the image was pushed as %s, but signing failed: %w", ref, err)
					}
				}
			}
			for _, p := range patches {
				if err := writePatch(p, ref, c.InOrStdin(), stdout, stderr); err != nil {
					return fmt.Errorf("the image was pushed as %s, but writing %s failed: %w", ref, p.output, err)
				}
			}
			rows := [][2]string{{"size", fmt.Sprintf("%s in %d layer(s), %d files", humanBytes(blobBytes(res)), len(res.Layers), res.Files)}}
			if err := githubActions(ref, res.Digest.String(), pushed, rows); err != nil && !out.Quiet {
				fmt.Fprintf(stderr, "warning: %v\n", err)
			}
			return printResult(stdout, out, ref, res.Digest.String(), j)
		},
	}
	bo.AddFlags(c.Flags())
	po.AddFlags(c.Flags())
	c.Flags().StringVar(&patchOut, "patch-out", "", "after --push, write the Kubernetes patch that mounts the image to this file (see assetpack patch)")
	c.Flags().StringVar(&patchFormat, "patch-format", string(kube.Strategic), "format of --patch-out: strategic, json6902 or pod")
	c.Flags().StringVar(&kustomize, "kustomize", "", "after --push, write or update a Kustomize Component that mounts the image in this directory")
	c.Flags().StringVarP(&patchFile, "file", "f", "", "the workload manifest, to check --patch-out/--kustomize against (required for --patch-format json6902)")
	to.AddFlags(c.Flags())
	c.Flags().StringVar(&configFile, "config", os.Getenv("ASSETPACK_CONFIG"), "configuration file (default ./"+config.FileName+" when no DIR is given; also $ASSETPACK_CONFIG); flags override its keys")
	c.Flags().BoolVar(&signImage, "sign", false, "after --push, sign the digest with cosign (--key, or keyless); see assetpack sign")
	so.AddFlags(c.Flags())
	ro.AddFlags(c.Flags())
	out.AddFlags(c.Flags())
	return c
}

// warnCache says once that the build cache could not be written: the
// build is fine, but the next one reads every file again.
func warnCache(stderr io.Writer, quiet bool, res *builder.Result) {
	if res.CacheError != nil && !quiet {
		fmt.Fprintf(stderr, "warning: %v: the next build reads every file again (pass another --cache-dir or set ASSETPACK_CACHE_DIR, or --no-cache)\n", res.CacheError)
	}
}

func blobBytes(res *builder.Result) int64 {
	var n int64
	for _, l := range res.Layers {
		sz, _ := l.Size()
		n += sz
	}
	return n
}

func summary(res *builder.Result) string {
	s := fmt.Sprintf("%d files, %s", res.Files, humanBytes(res.FileBytes))
	if len(res.Layers) == 1 {
		s += ", 1 layer"
	} else {
		s += fmt.Sprintf(", %d layers", len(res.Layers))
	}
	s += fmt.Sprintf(" of %s", humanBytes(blobBytes(res)))
	if len(res.Platforms) > 1 {
		s += fmt.Sprintf(", %d platforms", len(res.Platforms))
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// writeFileAtomic writes data to path through a temporary sibling.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
