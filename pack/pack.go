// Package pack is assetpack's pipeline: one call takes a directory to an
// image in a local output and in registries, signed, with the Kubernetes
// patches that mount it by digest. The CLI's build, resolve, sign and patch
// commands, the KRM function and the GitHub Action (through the CLI) all go
// through Run; a Go program gets everything the CLI does with one call.
//
//	dir ──builder──▶ layers ──builder──▶ image ──publish──▶ registry / OCI layout
//	                                                 │
//	  sign (signatures; attest: SBOM, provenance) ◀──┤
//	                                                 └──kube──▶ patches
//
// Run owns the overlap of building and uploading: each layer starts
// uploading as soon as it is built (an uncompressed layer of a push-only
// build while it is still being hashed), so a push takes little longer
// than the build. Nothing is printed; progress reaches the caller through
// Spec.Progress, notes through publish.Registry's callbacks, and the rest
// through the Result.
package pack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// The builder's layers carry what publish can use beyond a v1.Layer (a
// build-cache hit, a predicted digest, a cheaper read for the registry).
var _ publish.Layer = (*builder.Layer)(nil)

// ErrInvalidSpec marks a Spec that cannot run (see SpecError).
var ErrInvalidSpec = errors.New("invalid pipeline spec")

// SpecError names the field of a Spec that is wrong, and why. It matches
// ErrInvalidSpec with errors.Is.
type SpecError struct {
	Field string // e.g. "Tags", "Patches[0].Mount.MountPath"
	Msg   string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Msg }

// Is reports whether target is ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Spec is what Run does, as plain data (plus the clients that do it).
type Spec struct {
	// Source is the directory to pack. Exactly one of Source,
	// PlatformSources and Reference is set.
	Source string
	// PlatformSources packs one directory per platform into an index whose
	// manifests have different layers (builder.BuildPlatforms), such as a
	// program compiled for each platform; Image.Platforms must then be
	// empty.
	PlatformSources []builder.PlatformSource
	// Reference names an image already in a registry, by tag or digest, to
	// sign or to write patches for without building. A tag is resolved
	// once, and everything after uses that digest.
	Reference string

	// Image shapes the image built from Source. The zero value is the
	// builder's defaults.
	Image Image
	// Output, when its Path is set, writes the image there (an OCI image
	// layout or OCI archive), replacing an earlier assetpack output. A
	// build with neither Output nor Tags writes nothing and only reports
	// digests.
	Output publish.Target
	// Tags, when set, push the image to each REGISTRY/REPOSITORY:TAG (one
	// upload; tags in other repositories of the same registry mount its
	// blobs).
	Tags []string
	// Registry reaches registries: credentials, TLS policy, retries,
	// parallelism, progress and notes. Nil means publish.NewRegistry()'s
	// defaults.
	Registry *publish.Registry

	// Sign, when set, signs the pushed digest in every repository (or the
	// Reference's digest).
	Sign *Sign
	// Patches are rendered for the pinned digest once the image is pushed.
	// They are checked before anything is built, so a wrong mount request
	// costs no build and no upload.
	Patches []Patch
	// ModelPack, when set, also writes the image's ModelPack twin (see
	// ModelPack): beside the image in Output, and as a referrer of it in
	// every repository pushed to, before the tags.
	ModelPack *ModelPack

	// Progress, when set, hears how the build and the upload are getting
	// on (see Progress). It must not block.
	Progress func(Progress)
	// Warmup, when set, renders the warm-up DaemonSet of the pinned digest
	// (see Warmup); it is checked before anything is built.
	Warmup *Warmup
}

// Image holds the options of the image built from Spec.Source. Each zero
// value means the builder's default (see the builder.With* options).
type Image struct {
	Prefix      string              // directory inside the image holding the files; "" is the root
	Platforms   []v1.Platform       // default linux/amd64 (one manifest); two or more give an index
	Compression builder.Compression // default builder.Auto
	Layers      builder.LayerMode   // default builder.LayersAuto
	Symlinks    builder.SymlinkMode // default builder.SymlinksPreserve
	Excludes    []string            // gitignore-style patterns, after the root's .assetignore
	AllowEmpty  bool                // allow a tree without files
	Annotations map[string]string   // manifest annotations
	Labels      map[string]string   // config labels
	// SourceDateEpoch is the one timestamp of every entry; nil: the HEAD
	// commit time inside a git work tree, else 1970-01-01.
	SourceDateEpoch *time.Time
	NoGit           bool   // ignore an enclosing git work tree
	CacheDir        string // build cache of layer digests; "" disables it
	Jobs            int    // layers built at once; 0 is GOMAXPROCS
	// MaxLayers caps the number of layers (0: the builder's own cap of
	// 64). The registries pushed to may lower it, and their layer size
	// limits apply too (see Run).
	MaxLayers int
}

// options converts the image options to builder options.
func (im Image) options() []builder.Option {
	var opts []builder.Option
	if im.Prefix != "" {
		opts = append(opts, builder.WithPrefix(im.Prefix))
	}
	if len(im.Platforms) > 0 {
		opts = append(opts, builder.WithPlatforms(im.Platforms...))
	}
	if im.Compression != "" {
		opts = append(opts, builder.WithCompression(im.Compression))
	}
	if im.Layers != "" {
		opts = append(opts, builder.WithLayers(im.Layers))
	}
	if im.Symlinks != "" {
		opts = append(opts, builder.WithSymlinks(im.Symlinks))
	}
	if len(im.Excludes) > 0 {
		opts = append(opts, builder.WithExcludes(im.Excludes...))
	}
	if im.SourceDateEpoch != nil {
		opts = append(opts, builder.WithSourceDateEpoch(*im.SourceDateEpoch))
	}
	if im.CacheDir != "" {
		opts = append(opts, builder.WithCache(im.CacheDir))
	}
	return append(opts, builder.WithAllowEmpty(im.AllowEmpty), builder.WithAnnotations(im.Annotations),
		builder.WithLabels(im.Labels), builder.WithGit(!im.NoGit), builder.WithJobs(im.Jobs))
}

// Sign says how pushed images are signed, and what is attested about them.
type Sign struct {
	// Signer signs a digest: sign/cosign's key-file, KMS or keyless signer.
	Signer sign.Signer
	// Recursive also signs each platform manifest of an index.
	Recursive bool
	// Format is how signatures and attestations are stored: sign.FormatBundle
	// (a Sigstore bundle referrer), sign.FormatLegacy (the .sig and .att
	// tags) or sign.FormatBoth; Signer must then be a sign.FormatSigner.
	// "" is the signer's own choice (sign/cosign's: bundle).
	Format sign.Format

	// SBOM, when set, attaches to every digest signed an SBOM of the
	// image's files in this format (attest.SPDX or attest.CycloneDX): every
	// file with its sha256 and layer, as an in-toto statement signed by
	// Signer, which must then be a sign.StatementAttester. The statement
	// depends only on the image and the repository: the same tree and
	// options give the same bytes. Listing the files reads every layer
	// (attest.ReadImage), while the image is written and pushed; for a
	// Reference that means downloading its layers.
	SBOM attest.Format
	// Provenance attaches the SLSA provenance v1 of the build
	// (attest.Provenance: the options given, the source repository and
	// commit when the directory is in a git work tree, the layers) to
	// every digest signed. A Reference was not built here and has none.
	Provenance bool
	// Version and Commit name the assetpack that made the statements: the
	// SBOM's creator tool, the provenance's builder ID and version
	// (attest.WithVersion, attest.WithCommit). "" is "devel", and no
	// commit.
	Version, Commit string
}

// Result is what Run did. Call Close when done with Build.
type Result struct {
	// Build is the built image (nil for Spec.Reference): its layers,
	// files, platforms and options. Valid until Close.
	Build *builder.Result
	// Digest is the image's (or index's) digest.
	Digest v1.Hash
	// Reference is what a caller prints: the pushed REGISTRY/REPO@DIGEST,
	// else the local output's oci:PATH@DIGEST, else "".
	Reference string
	// Output is the local output written ("" if none).
	Output string
	// Pushed describes the push, with per-blob statistics (nil if none).
	Pushed *publish.PushResult
	// Signed lists every digest signed, in order.
	Signed []name.Digest
	// Attestations lists every statement attached (Sign.SBOM,
	// Sign.Provenance), in order: for each digest signed, the SBOM then the
	// provenance, with the statement's digest and where it was stored.
	Attestations []sign.Attestation
	// Patches holds each rendered patch, in the order of Spec.Patches.
	Patches []PatchResult
	// ModelPack is the ModelPack twin written (nil unless Spec.ModelPack).
	ModelPack *ModelPackResult
	// Warmup is the warm-up DaemonSet rendered (nil unless Spec.Warmup).
	Warmup *WarmupResult
}

// Close removes the build's temporary layer files.
func (r *Result) Close() error {
	if r == nil || r.Build == nil {
		return nil
	}
	return r.Build.Close()
}

// Check reports every problem of spec that can be found without building
// and without a network call (the Source and Reference, the image options,
// the tags, the signer, each patch request), one per line. Run calls it
// first.
func Check(spec Spec) error {
	reg := spec.Registry
	if reg == nil {
		var err error
		if reg, err = publish.NewRegistry(); err != nil {
			return err
		}
	}
	var errs []error
	building := spec.Source != "" || len(spec.PlatformSources) > 0
	if countSet(spec.Source != "", len(spec.PlatformSources) > 0, spec.Reference != "") != 1 {
		errs = append(errs, specErr("Source", "give a directory to build, one per platform in PlatformSources, or a Reference to an image in a registry: exactly one of them"))
	}
	if len(spec.PlatformSources) > 0 && len(spec.Image.Platforms) > 0 {
		errs = append(errs, specErr("Image.Platforms", "the platforms come from PlatformSources: leave Image.Platforms empty"))
	}
	if spec.Reference != "" {
		if _, err := reg.ParseReference(spec.Reference); err != nil {
			errs = append(errs, err)
		}
	}
	if building {
		if err := builder.CheckOptions(spec.Image.options()...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkPatches(spec.Patches); err != nil {
		errs = append(errs, err)
	}
	if err := checkWarmup(spec.Warmup); err != nil {
		errs = append(errs, err)
	}
	if spec.Sign != nil {
		if err := checkSign(spec.Sign, spec.Reference != ""); err != nil {
			errs = append(errs, err)
		}
	}
	if building && len(spec.Tags) == 0 {
		if spec.Sign != nil {
			errs = append(errs, specErr("Sign", "signing needs a pushed digest: give Tags to push to"))
		}
		if len(spec.Patches) > 0 {
			errs = append(errs, specErr("Patches", "patches pin the pushed digest: give Tags to push to"))
		}
		if spec.Warmup != nil {
			errs = append(errs, specErr("Warmup", "the warm-up DaemonSet pins the pushed digest: give Tags to push to"))
		}
	}
	for _, v := range spec.Tags {
		if _, err := reg.ParseTag(v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkModelPack(&spec); err != nil { // spec is Check's copy
		errs = append(errs, err)
	}
	return joinErrors(errs)
}

// Run runs spec: build (or resolve Reference), write the local output,
// push, sign, render the patches. Everything that can be checked without
// building is checked first (see Check); an error after the push says what
// was pushed.
func Run(ctx context.Context, spec Spec) (_ *Result, err error) {
	reg := spec.Registry
	if reg == nil {
		if reg, err = publish.NewRegistry(); err != nil {
			return nil, err
		}
	}
	if err := Check(spec); err != nil {
		return nil, err
	}
	if err := checkModelPack(&spec); err != nil { // its defaults; Check reported its problems
		return nil, err
	}
	if spec.Reference != "" {
		return runReference(ctx, spec, reg)
	}
	tags, err := parseTags(reg, spec.Tags)
	if err != nil {
		return nil, err
	}

	opts := spec.Image.options()
	// Preflight: the layers are planned within the limits of every
	// registry pushed to, and a file too large for them fails the build
	// before any layer is encoded, so before anything is uploaded.
	opts = append(opts, builder.WithLayerLimits(layerLimits(reg, tags, spec.Image.MaxLayers)))
	var h hooks.Build
	// Where the layer blobs go: next to the local output (so they are
	// hard-linked into it), or a temporary directory when only pushing.
	var local *publish.Output
	if spec.Output.Path != "" {
		if local, err = publish.NewOutput(spec.Output); err != nil {
			return nil, err
		}
		defer local.Close() // removes whatever was not committed
		h.WorkDir, h.SkipPaths, h.ReuseDir = local.WorkDir(), local.SkipPaths(), local.ReuseDir()
	}
	// Only pushing: uncompressed layers need not be written to disk first;
	// the registry reads them from the files.
	h.Deferred = local == nil && len(tags) > 0
	// Upload each layer as soon as it is built, while the others are still
	// being compressed and hashed; a deferred layer starts uploading while
	// it is being hashed, and a compressed one while it is compressed if
	// the repository has no tag yet (see publish.Uploader.Start).
	rep := newReporter(spec.Progress)
	if rep != nil {
		opts = append(opts, rep.build())
	}
	var up *publish.Uploader
	if len(tags) > 0 {
		var uopts []publish.UploaderOption
		if rep != nil {
			uopts = append(uopts, rep.upload())
		}
		if up, err = reg.NewUploader(ctx, tags, uopts...); err != nil {
			return nil, err
		}
		defer up.Abort() // a no-op after Push; stops uploads on any error
		h.LayerDone = up.Add
		if h.Deferred {
			h.LayerStart = func(l v1.Layer, open func() io.ReadCloser) { up.Start(l, open) }
		}
	}
	b, err := build(ctx, spec, append(opts, builder.WithHooks(h)))
	if err != nil {
		return nil, err
	}
	rep.done(PhaseBuild)
	res := &Result{Build: b, Digest: b.Digest}
	defer func() {
		if err != nil {
			res.Close()
		}
	}()
	var referrers []*publish.Referrer
	if spec.ModelPack != nil {
		mp, ref, err := twin(spec.ModelPack, b)
		if err != nil {
			return nil, err
		}
		res.ModelPack, referrers = mp, []*publish.Referrer{ref}
		if up != nil {
			up.BeforeTags(attachTwin(reg, spec.ModelPack, ref, mp))
		}
	}
	// The statements' description of the image (for an SBOM, every file
	// with its hashes) is read while the image is written and pushed.
	var described *pending
	if spec.Sign != nil && spec.Sign.attests() {
		described = startDescribe(ctx, b.Digest, b.Artifact(), spec.Sign.SBOM != "")
		defer described.stop()
	}
	if local != nil {
		t := local.Target()
		if err := local.Write(ctx, b.Artifact(), "latest", referrers...); err != nil {
			return nil, fmt.Errorf("writing %s: %w", t, err)
		}
		// The layers stay in the work directory until Commit moves it.
		if described != nil {
			if _, err := described.wait(); err != nil {
				return nil, err
			}
		}
		if err := local.Commit(); err != nil {
			return nil, err
		}
		res.Output = t.String()
		res.Reference = fmt.Sprintf("%s@%s", t, b.Digest)
	}
	if up == nil {
		return res, nil
	}
	if res.Pushed, err = up.Push(ctx, b.Artifact(), tags); err != nil {
		return nil, err
	}
	rep.done(PhaseUpload)
	res.Reference = res.Pushed.Refs[0].String()
	if spec.Sign != nil {
		var files *attest.Image
		if described != nil {
			if files, err = described.wait(); err != nil {
				return nil, fmt.Errorf("the image was pushed as %s, but %w", res.Reference, err)
			}
		}
		build := buildParameters(spec, b.Platforms)
		for _, d := range res.Pushed.Refs { // one per repository pushed to
			if err := signAll(ctx, spec.Sign, d, b.Artifact(), files, build, res); err != nil {
				return nil, fmt.Errorf("the image was pushed as %s, but signing failed: %w", res.Reference, err)
			}
		}
	}
	if err := renderPatches(spec.Patches, res); err != nil {
		return nil, fmt.Errorf("the image was pushed as %s, but %w", res.Reference, err)
	}
	if spec.Warmup != nil {
		if err := renderWarmup(spec.Warmup, res, buildSize(b)); err != nil {
			return nil, fmt.Errorf("the image was pushed as %s, but %w", res.Reference, err)
		}
	}
	return res, nil
}

// runReference signs and patches an image already in a registry.
func runReference(ctx context.Context, spec Spec, reg *publish.Registry) (*Result, error) {
	ref, err := reg.ParseReference(spec.Reference)
	if err != nil {
		return nil, err
	}
	d, err := reg.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: h, Reference: d.String()}
	if spec.Sign != nil {
		art, err := fetch(ctx, reg, d)
		if err != nil {
			return nil, err
		}
		var files *attest.Image
		if spec.Sign.attests() {
			if files, err = describe(ctx, h, art, spec.Sign.SBOM != ""); err != nil {
				return nil, err
			}
		}
		if err := signAll(ctx, spec.Sign, d, art, files, nil, res); err != nil {
			return nil, err
		}
	}
	if err := renderPatches(spec.Patches, res); err != nil {
		return nil, err
	}
	if spec.Warmup != nil {
		art, err := fetch(ctx, reg, d)
		if err != nil {
			return nil, err
		}
		size, err := imageSize(ctx, art)
		if err != nil {
			return nil, fmt.Errorf("sizing %s: %w", d, err)
		}
		if err := renderWarmup(spec.Warmup, res, size); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// build builds spec's Source, or its PlatformSources.
func build(ctx context.Context, spec Spec, opts []builder.Option) (*builder.Result, error) {
	if len(spec.PlatformSources) > 0 {
		return builder.BuildPlatforms(ctx, spec.PlatformSources, opts...)
	}
	return builder.Build(ctx, spec.Source, opts...)
}

func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

// layerLimits are the strictest of the limits that the registries of tags
// publish (publish.Registry.Limits) and the caller's cap on layers.
func layerLimits(reg *publish.Registry, tags []name.Tag, maxLayers int) builder.LayerLimits {
	lim := builder.LayerLimits{MaxLayers: maxLayers}
	for _, t := range tags {
		l := reg.Limits(t.RegistryStr())
		if l.MaxLayerSize > 0 && (lim.MaxLayerSize == 0 || l.MaxLayerSize < lim.MaxLayerSize) {
			lim.MaxLayerSize, lim.Reason = l.MaxLayerSize, l.LayerLimit()
		}
		if l.MaxLayers > 0 && (lim.MaxLayers == 0 || l.MaxLayers < lim.MaxLayers) {
			lim.MaxLayers = l.MaxLayers
		}
	}
	return lim
}

func parseTags(reg *publish.Registry, values []string) ([]name.Tag, error) {
	var tags []name.Tag
	for _, v := range values {
		t, err := reg.ParseTag(v)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, nil
}
