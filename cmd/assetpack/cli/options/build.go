// Package options holds the CLI's flag structs. Each has AddFlags and a
// converter to library options, so flags turn into options in one place.
package options

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// DefaultOutputDir is where `assetpack build DIR` writes without --output.
const DefaultOutputDir = "assetpack-out"

// Build holds the flags of `assetpack build`.
type Build struct {
	Output          string
	Prefix          string
	Platforms       []string
	PlatformDirs    []string
	Compression     string
	SourceDateEpoch string
	Symlinks        string
	Excludes        []string
	AllowEmpty      bool
	Annotations     []string
	Labels          []string
	Git             bool
	Layers          string
	NoCache         bool
	CacheDir        string

	// Notes are what Image has to tell the user (a platform written under
	// another name), one line each: the command prints them on stderr.
	Notes []string
}

// AddFlags registers the build flags.
func (b *Build) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&b.Output, "output", "o", "", "where to write the image: oci:DIR (OCI image layout) or tar:FILE (OCI archive) (default oci:"+DefaultOutputDir+"/<source dir name>)")
	fs.StringVar(&b.Prefix, "prefix", "/", "directory inside the image that holds the files; mount with subPath set to it (e.g. --prefix site, subPath: site)")
	fs.StringSliceVar(&b.Platforms, "platform", []string{"linux/amd64"}, "platform(s) to declare, comma-separated; two or more produce an image index sharing one set of layers")
	StringArrayVar(fs, &b.PlatformDirs, "platform-dir", nil, "PLATFORM=DIR: pack DIR for PLATFORM only (repeatable, in place of DIR and --platform); gives an index whose platforms have their own files, such as a program built for each")
	fs.StringVar(&b.Compression, "compression", string(builder.Auto), "layer compression: auto (per layer: none for incompressible data such as model weights, else gzip), gzip, zstd, none, or zstd-better / zstd-best: fewer bytes for more CPU, for slow links")
	fs.StringVar(&b.Layers, "layers", string(builder.LayersAuto), "layer split: auto (files of 32 MiB or more in their own layers, the rest in groups of a few MiB, so one changed file re-uploads one layer), model (each weight file — safetensors, gguf, onnx, bin, pt, … — in its own layer, config/tokenizer, docs and code files in one layer each) or single")
	fs.BoolVar(&b.NoCache, "no-cache", false, "ignore the build cache: read every file (no layer digests kept) and ping every registry (no answer kept)")
	fs.StringVar(&b.CacheDir, "cache-dir", "", "build cache directory (default $ASSETPACK_CACHE_DIR, else assetpack/layers in the user cache directory)")
	fs.StringVar(&b.SourceDateEpoch, "source-date-epoch", "", "timestamp for every file and the image, in seconds since 1970 (default $SOURCE_DATE_EPOCH, else the HEAD commit time inside a git work tree, else 0)")
	fs.StringVar(&b.Symlinks, "symlinks", string(builder.SymlinksPreserve), "symlinks: preserve (relative links inside the tree stay links; others are errors) or follow (store the target's content)")
	StringArrayVar(fs, &b.Excludes, "exclude", nil, "gitignore-style pattern of paths to leave out (repeatable; added to the root's "+builder.IgnoreFile+"; .git is always left out)")
	fs.BoolVar(&b.AllowEmpty, "allow-empty", false, "allow a source directory without files")
	StringArrayVar(fs, &b.Annotations, "annotation", nil, "manifest annotation key=value (repeatable; overrides org.opencontainers.image.created/source/revision)")
	StringArrayVar(fs, &b.Labels, "label", nil, "image config label key=value (repeatable)")
	fs.BoolVar(&b.Git, "git", true, "inside a git work tree, take the default timestamp from the HEAD commit and add source/revision annotations (--git=false to ignore git)")
}

// Target returns the output target for source dir src.
func (b *Build) Target(src string) (publish.Target, error) {
	if b.Output != "" {
		return publish.ParseTarget(b.Output)
	}
	return publish.Target{Kind: publish.Layout, Path: filepath.Join(DefaultOutputDir, DefaultName(src))}, nil
}

// DefaultName is the output name for a source directory: its base name.
func DefaultName(src string) string {
	abs, err := filepath.Abs(src)
	if err != nil {
		abs = src
	}
	name := filepath.Base(abs)
	if name == "" || name == "." || name == string(filepath.Separator) || strings.ContainsAny(name, `:\/`) {
		return "image"
	}
	return name
}

// Image converts the flags (and SOURCE_DATE_EPOCH, ASSETPACK_CACHE_DIR)
// to the pipeline's image options, and sets Notes. Errors name the library option
// (compression "lz4" …); the command's error mapping (withFlagAdvice) names
// the flag instead.
func (b *Build) Image() (pack.Image, error) {
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c, err := builder.ParseCompression(b.Compression)
	check(err)
	lm, err := builder.ParseLayerMode(b.Layers)
	check(err)
	sm, err := builder.ParseSymlinkMode(b.Symlinks)
	check(err)
	ps, notes, err := builder.ParsePlatformsWithNotes(b.Platforms)
	check(err)
	b.Notes = nil
	for _, n := range notes {
		b.Notes = append(b.Notes, "note: "+n.String())
	}
	ann, err := builder.ParseKeyValues("--annotation", b.Annotations)
	check(err)
	labels, err := builder.ParseKeyValues("--label", b.Labels)
	check(err)
	im := pack.Image{
		Prefix:      b.Prefix,
		Platforms:   ps,
		Compression: c,
		Layers:      lm,
		Symlinks:    sm,
		Excludes:    b.Excludes,
		AllowEmpty:  b.AllowEmpty,
		Annotations: ann,
		Labels:      labels,
		NoGit:       !b.Git,
		CacheDir:    b.cacheDir(),
	}
	// Precedence: flag > environment > git commit time > 0.
	switch {
	case b.SourceDateEpoch != "":
		t, err := builder.ParseSourceDateEpoch("--source-date-epoch", b.SourceDateEpoch)
		check(err)
		im.SourceDateEpoch = &t
	case os.Getenv("SOURCE_DATE_EPOCH") != "":
		t, err := builder.ParseSourceDateEpoch("SOURCE_DATE_EPOCH", os.Getenv("SOURCE_DATE_EPOCH"))
		check(err)
		im.SourceDateEpoch = &t
	}
	// The prefix and the exclude patterns, as the builder checks them.
	check(builder.CheckOptions(builder.WithPrefix(b.Prefix), builder.WithExcludes(b.Excludes...)))
	if len(errs) > 0 {
		return pack.Image{}, errors.Join(errs...)
	}
	return im, nil
}

// DefaultBuild returns the flag defaults, for commands that build without
// registering every build flag.
func DefaultBuild() Build {
	return Build{Prefix: "/", Compression: string(builder.Auto), Symlinks: string(builder.SymlinksPreserve),
		Git: true, Layers: string(builder.LayersAuto)}
}

// RegistryOptions are the publish options that come from the build flags:
// a build with a cache remembers there, in registries/, how each registry
// answered its ping (publish.WithPingMemory), so --cache-dir and --no-cache
// govern that too, and the cache's trimming removes what is not used.
func (b *Build) RegistryOptions() []publish.RegistryOption {
	if d := b.cacheDir(); d != "" {
		return []publish.RegistryOption{publish.WithPingMemory(filepath.Join(d, "registries"))}
	}
	return nil
}

// cacheDir is the build cache in use, or "" when disabled or unavailable.
func (b *Build) cacheDir() string {
	switch {
	case b.NoCache:
		return ""
	case b.CacheDir != "":
		return b.CacheDir
	case os.Getenv("ASSETPACK_CACHE_DIR") != "":
		return os.Getenv("ASSETPACK_CACHE_DIR")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "" // no home or XDG_CACHE_HOME: build without a cache
	}
	return filepath.Join(d, "assetpack", "layers")
}
