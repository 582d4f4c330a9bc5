package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/config"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// buildFlags are the flags of build (and what the config file may set).
type buildFlags struct {
	source      string // from the config file, when no DIR is given
	bo          options.Build
	to          options.Tags
	ro          options.Registry
	out         options.Output
	po          options.Patch
	so          options.Sign
	patchOut    string
	patchFormat string
	kustomize   string
	patchFile   string
	signImage   bool
	configFile  string
	mo          options.ModelPack
	cfgLayers   string // layers: in the config file
	progress    string
	notes       []string // for stderr, from checking the flags
	workloads   string   // the workloads of -f, when --workload is needed
}

func newBuild() *cobra.Command { return buildCommand(&buildFlags{}) }

// buildCommand is the build command over the flags f.
func buildCommand(f *buildFlags) *cobra.Command {
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
--json prints a JSON object instead.

--sign signs the pushed digest (see assetpack sign) and attaches, signed the
same way, an SBOM (SPDX 2.3, or CycloneDX 1.6 with --sbom-format cyclonedx:
every file with its sha256 and layer, byte-for-byte the same for the same
tree) and a SLSA provenance v1 of the build (assetpack's version and commit,
the git repository and commit of DIR, the options, source-date-epoch and
layers), which 'cosign verify-attestation --type spdxjson' (cyclonedx,
slsaprovenance1) and 'assetpack verify --sbom' read. --sbom=false and
--provenance=false leave them out.`,
		Example: `  assetpack build ./site
  assetpack build ./site --output tar:site.tar --prefix site
  assetpack build ./model --prefix /model --compression zstd --json
  assetpack build ./site -t ghcr.io/acme/site-assets:v42 -t ghcr.io/acme/site-assets:latest --push
  assetpack build ./site -t REPO:v42 --push --sign --key cosign.key    # + SPDX SBOM and SLSA provenance
  assetpack build ./site -t REPO:v42 --push --sign --key cosign.key --sbom-format cyclonedx --provenance=false
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
			cfgPath, err := f.applyConfig(c, args)
			if err != nil {
				return err
			}
			if f.signing(c) {
				if done, err := handOff(c); done {
					return err
				}
			}
			if cfgPath != "" && !f.out.Quiet {
				fmt.Fprintf(stderr, "using %s\n", cfgPath)
			}
			view := newProgressView(f.progress, f.out.Quiet, stderr)
			defer view.close()
			reg, finish, err := newRegistry(f.ro, f.out.Quiet, view.writer(), f.bo.RegistryOptions()...)
			if err != nil {
				return err
			}
			defer finish()
			if note := options.DeprecatedNote(c.Flags()); note != "" {
				fmt.Fprintln(stderr, note)
			}
			spec, err := f.spec(c, args, reg)
			if err != nil {
				return err
			}
			spec.Progress = view.update
			printNotes(view.writer(), f.out.Quiet, append(f.bo.Notes, f.notes...))
			// Load the key (and check its password) before building and pushing.
			if spec.Sign != nil {
				f.so.Resolve(c.Flags())
				s, err := newSigner(ctx, f.so, reg, c.InOrStdin(), stderr, f.out.Quiet)
				if err != nil {
					return err
				}
				defer s.Close()
				spec.Sign.Signer = s
			}
			start := time.Now()
			res, err := pack.Run(ctx, spec)
			view.close()
			if err != nil {
				return buildAdvice(err, spec, f.workloads)
			}
			defer res.Close()
			return f.print(res, spec, time.Since(start), stdout, stderr)
		},
	}
	f.bo.AddFlags(c.Flags())
	f.po.AddFlags(c.Flags())
	c.Flags().StringVar(&f.patchOut, "patch-out", "", "after --push, write the Kubernetes patch that mounts the image to this file (see assetpack patch)")
	c.Flags().StringVar(&f.patchFormat, "patch-format", string(kube.Strategic), "format of --patch-out: strategic, json6902 or pod")
	c.Flags().StringVar(&f.kustomize, "kustomize", "", "after --push, write or update a Kustomize Component that mounts the image in this directory")
	c.Flags().StringVarP(&f.patchFile, "file", "f", "", "the workload manifest, to check --patch-out/--kustomize against (required for --patch-format json6902)")
	f.to.AddFlags(c.Flags())
	c.Flags().StringVar(&f.configFile, "config", os.Getenv("ASSETPACK_CONFIG"), "configuration file (default ./"+config.FileName+" when no DIR is given; also $ASSETPACK_CONFIG); flags override its keys")
	c.Flags().BoolVar(&f.signImage, "sign", false, "after --push, sign the digest with cosign (--key, or keyless), and attach a signed SBOM and SLSA provenance (--sbom, --provenance); see assetpack sign")
	f.so.AddFlags(c.Flags())
	f.mo.AddFlags(c.Flags())
	f.so.Attest.AddFlags(c.Flags(), true, "(default: on with --sign, which --sbom implies; --sbom=false turns it off)")
	f.ro.AddPushFlags(c.Flags())
	f.out.AddFlags(c.Flags())
	addProgressFlag(c.Flags(), &f.progress)
	return c
}

// applyConfig loads --config (or ./assetpack.yaml when no DIR is given)
// and fills every flag that was not given from it; it returns the file's
// path, or "" when there is none.
func (f *buildFlags) applyConfig(c *cobra.Command, args []string) (string, error) {
	cfg, err := loadConfig(f.configFile, len(args) == 0)
	if err != nil || cfg == nil {
		return "", err
	}
	if len(cfg.PlatformDirs) > 0 && (cfg.Source != "" || len(cfg.Platforms) > 0) {
		return "", usagef("%s: platformDirs names each platform's directory: drop source: and platforms:", cfg.Path)
	}
	if len(args) == 0 && len(cfg.PlatformDirs) == 0 {
		f.source = cfg.Resolve(cfg.Source)
		if cfg.Source == "" {
			f.source = cfg.Dir
		}
	}
	if err := applyConfig(c, cfg, &f.bo, &f.to, &f.so, &f.signImage, &f.po, &f.ro, &f.patchOut, &f.patchFormat, &f.kustomize, &f.patchFile); err != nil {
		return "", err
	}
	f.cfgLayers = cfg.Layers
	if m := cfg.ModelPack; m != nil {
		set := func(flag string) bool { return !c.Flags().Changed(flag) }
		if set("modelpack") {
			f.mo.Mode = "true"
			if m.Optional {
				f.mo.Mode = "optional"
			}
		}
		if set("model-metadata") && m.Metadata != "" {
			f.mo.Metadata = cfg.Resolve(m.Metadata)
		}
		for _, o := range []struct {
			flag string
			dst  *string
			v    string
		}{
			{"model-name", &f.mo.Name, m.Name}, {"model-family", &f.mo.Family, m.Family},
			{"model-architecture", &f.mo.Architecture, m.Architecture}, {"model-format", &f.mo.Format, m.Format},
			{"model-param-size", &f.mo.ParamSize, m.ParamSize}, {"model-precision", &f.mo.Precision, m.Precision},
			{"model-quantization", &f.mo.Quantization, m.Quantization},
		} {
			if set(o.flag) && o.v != "" {
				*o.dst = o.v
			}
		}
	}
	return cfg.Path, nil
}

// signing reports whether build signs: --sign (or sign: in the
// configuration file), or an attestation asked for on the command line.
func (f *buildFlags) signing(c *cobra.Command) bool {
	return f.signImage || f.so.Attest.Asked(c.Flags())
}

// spec turns the flags into the pipeline's Spec; every flag is checked
// here, before anything is built or pushed, and every problem is reported
// at once, one per line.
func (f *buildFlags) spec(c *cobra.Command, args []string, reg *publish.Registry) (pack.Spec, error) {
	var errs []error
	src := f.source
	if len(args) == 1 {
		src = args[0]
	}
	sources, err := f.platformSources(c, args)
	if err != nil {
		errs = append(errs, err)
	}
	if len(sources) > 0 || len(f.bo.PlatformDirs) > 0 {
		src = ""
	} else if src == "" {
		errs = append(errs, usagef("build needs a directory, or an %s in the current directory ('assetpack config init' writes one)", config.FileName))
	}
	im, err := f.bo.Image()
	if err != nil {
		errs = append(errs, err)
	}
	if len(sources) > 0 {
		im.Platforms = nil // each source names its platform
	}
	if f.to.Push && len(f.to.Tags) == 0 {
		errs = append(errs, usagef("--push needs at least one -t REGISTRY/REPOSITORY:TAG"))
	}
	if !f.to.Push && len(f.to.Tags) > 0 {
		errs = append(errs, usagef("-t names where to push: add --push (or drop -t to only build locally)"))
	}
	signing := f.signing(c)
	if signing && !f.to.Push {
		errs = append(errs, usagef("--sign signs the pushed digest (and --sbom and --provenance attest it): add -t REPO:TAG --push"))
	}
	spec := pack.Spec{Source: src, PlatformSources: sources, Image: im, Registry: reg}
	if spec.ModelPack, err = f.mo.Spec(); err != nil {
		var me *modelpack.Error
		if errors.As(err, &me) {
			return pack.Spec{}, err // the metadata file's problem, mapped by advice
		}
		errs = append(errs, err)
	}
	if spec.ModelPack != nil && !c.Flags().Changed("layers") && f.cfgLayers == "" {
		spec.Image.Layers = builder.LayersModel // a twin names one weight file per layer
	}
	if signing {
		if spec.Sign, err = signRequest(c.Flags(), f.so, true); err != nil {
			errs = append(errs, err)
		}
	}
	if f.to.Push {
		spec.Tags = f.to.Tags
	}
	if (src != "" || len(sources) > 0) && (!f.to.Push || f.bo.Output != "") {
		name := src
		if len(sources) > 0 {
			name = sourcesName(sources)
		}
		if spec.Output, err = f.bo.Target(name); err != nil {
			errs = append(errs, err)
		}
	}
	if f.patchFile == "-" {
		errs = append(errs, usagef("build -f needs a file: stdin is not read by build"))
	}
	if err := checkProgress(f.progress); err != nil {
		errs = append(errs, err)
	}
	if f.patchOut != "" || f.kustomize != "" {
		errs = append(errs, f.patches(c, &spec)...)
	}
	for _, t := range f.to.Tags {
		if _, err := reg.ParseTag(t); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return pack.Spec{}, usageErrors(errs)
	}
	return spec, nil
}

// patches adds the patch requests of --patch-out and --kustomize to spec,
// and returns what is wrong with their flags.
func (f *buildFlags) patches(c *cobra.Command, spec *pack.Spec) []error {
	var errs []error
	if !f.to.Push {
		errs = append(errs, usagef("--patch-out and --kustomize pin the pushed digest: add -t REPO:TAG --push"))
	}
	po := f.po
	if !c.Flags().Changed("sub-path") && f.bo.Prefix != "" {
		po.SubPath = strings.Trim(f.bo.Prefix, "/")
	}
	var manifest []byte
	if f.patchFile != "" && f.patchFile != "-" {
		var err error
		if manifest, err = os.ReadFile(f.patchFile); err != nil {
			errs = append(errs, usagef("reading the workload manifest -f %q: %v", f.patchFile, err))
		}
	}
	note, candidates := defaultWorkload(&po, manifest, f.patchFile)
	if note != "" {
		f.notes = append(f.notes, note)
	}
	f.workloads = candidates
	var hint string
	if manifest == nil {
		need := kube.Strategic
		if pf, _ := kube.ParseFormat(f.patchFormat); f.kustomize == "" && pf == kube.PodFormat {
			need = kube.PodFormat
		}
		if note, hint = defaultContainer(&po, need, f.patchOut, f.kustomize); note != "" {
			f.notes = append(f.notes, note)
		}
	}
	if f.patchOut != "" {
		switch format, err := kube.ParseFormat(f.patchFormat); {
		case err != nil:
			errs = append(errs, err)
		case format == kube.Kustomize:
			errs = append(errs, usagef("use --kustomize DIR for a Kustomize Component; --patch-format is strategic, json6902 or pod"))
		default:
			spec.Patches = append(spec.Patches, po.Patch(format, manifest, f.patchOut))
		}
	}
	if f.kustomize != "" {
		spec.Patches = append(spec.Patches, po.Patch(kube.Kustomize, manifest, f.kustomize))
	}
	if len(errs) > 0 || !f.to.Push {
		return errs
	}
	// Checked here with the other flags (Run checks them again).
	if err := pack.Check(pack.Spec{Reference: validationReference, Registry: spec.Registry, Patches: spec.Patches}); err != nil {
		errs = append(errs, withContainerHint(buildAdvice(err, *spec, candidates), hint))
	}
	return errs
}

// platformSources parses --platform-dir, which takes the place of DIR and
// --platform.
func (f *buildFlags) platformSources(c *cobra.Command, args []string) ([]builder.PlatformSource, error) {
	if len(f.bo.PlatformDirs) == 0 {
		return nil, nil
	}
	if len(args) == 1 {
		return nil, usagef("--platform-dir gives each platform its directory: drop the DIR argument %q", args[0])
	}
	if c.Flags().Changed("platform") {
		return nil, usagef("--platform-dir names the platforms: drop --platform")
	}
	return builder.ParsePlatformSources(f.bo.PlatformDirs)
}

// sourcesName names the default output of a --platform-dir build: the
// directory holding the platforms' directories (dist for dist/amd64 and
// dist/arm64), else "image".
func sourcesName(sources []builder.PlatformSource) string {
	parent := ""
	for i, s := range sources {
		abs, err := filepath.Abs(s.Dir)
		if err != nil || (i > 0 && filepath.Dir(abs) != parent) {
			return "image"
		}
		parent = filepath.Dir(abs)
	}
	return parent
}

// print writes the notes on stderr and the result on stdout.
func (f *buildFlags) print(res *pack.Result, spec pack.Spec, elapsed time.Duration, stdout, stderr io.Writer) error {
	b, quiet := res.Build, f.out.Quiet
	warnCache(stderr, quiet, b)
	if res.Output != "" && !quiet {
		fmt.Fprintf(stderr, "wrote %s (%s)\n", res.Output, summary(b))
	}
	j := newBuildJSON(res.Reference, b)
	j.Output = res.Output
	if res.Pushed != nil {
		j.Push = newPushJSON(res.Pushed)
		if !quiet {
			fmt.Fprintf(stderr, "built %s; %s\n", summary(b), pushSummary(res.Pushed, elapsed))
		}
	}
	if res.ModelPack != nil {
		j.ModelPack = newModelPackJSON(res.ModelPack)
		if !quiet {
			printModelPack(stderr, res)
		}
	}
	if !quiet {
		printSigned(stderr, res)
	}
	j.addSigned(res)
	for i, p := range res.Patches {
		printPatchNotes(stderr, quiet, p, spec.Patches[i].Mount)
	}
	rows := [][2]string{{"size", fmt.Sprintf("%s in %d layer(s), %d files", humanBytes(blobBytes(b)), len(b.Layers), b.Files)}}
	if err := githubActions(res.Reference, res.Digest.String(), res.Pushed, rows, res.Patches...); err != nil && !quiet {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	return printResult(stdout, f.out, res.Reference, res.Digest.String(), j)
}

// printModelPack says where the ModelPack twin went.
func printModelPack(stderr io.Writer, res *pack.Result) {
	mp := res.ModelPack
	if res.Output != "" {
		fmt.Fprintf(stderr, "wrote the ModelPack manifest %s beside the image in %s\n", mp.Digest, res.Output)
	}
	for _, a := range mp.Attached {
		how := string(a.Mechanism)
		if a.Index != nil {
			how += ", listed in " + publish.FallbackTag(a.Ref.Context().Digest(res.Digest.String())).String()
		}
		fmt.Fprintf(stderr, "attached the ModelPack manifest %s to the image (%s)\n", a.Ref, how)
	}
	if mp.Refused != nil {
		fmt.Fprintf(stderr, "warning: the image was pushed without its ModelPack manifest (--modelpack=optional): %v\n", mp.Refused)
	}
}

// printNotes prints notes on stderr, one per line, unless quiet.
func printNotes(stderr io.Writer, quiet bool, notes []string) {
	if quiet {
		return
	}
	for _, n := range notes {
		if n != "" {
			fmt.Fprintln(stderr, n)
		}
	}
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

// buildAdvice turns the pipeline's complaints about a build's patch
// requests and ModelPack twin into advice about build's flags; candidates
// lists the workloads of -f, for the error that asks for one.
func buildAdvice(err error, spec pack.Spec, candidates string) error {
	return specAdvice(err, func(se *pack.SpecError) string {
		switch {
		case se.Field == "Image.Layers":
			return fmt.Sprintf("--modelpack names one weight file per layer: use --layers model (its default), not --layers %s", spec.Image.Layers)
		case strings.HasSuffix(se.Field, ".Workload") && candidates != "":
			return "--workload KIND/NAME is required for --patch-out and --kustomize: " + candidates
		case strings.HasSuffix(se.Field, ".Workload"):
			return "--workload KIND/NAME is required for --patch-out and --kustomize (e.g. --workload deployment/web)"
		case strings.HasSuffix(se.Field, ".Manifest"):
			return "--patch-format json6902 addresses containers and volumes by index: pass the workload manifest with -f FILE"
		}
		return ""
	})
}
