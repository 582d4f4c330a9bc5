package builder

import (
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/internal/hooks"
)

// Compression selects how layers are compressed.
type Compression string

// Supported compressions. Each is produced by a pinned library at a fixed
// level, so the digest does not drift with Go toolchain upgrades.
const (
	Gzip Compression = "gzip" // klauspost/compress gzip, level 6, no name or mtime in the header
	Zstd Compression = "zstd" // klauspost/compress zstd, default level, single-threaded, with checksum
	None Compression = "none" // plain tar (application/vnd.oci.image.layer.v1.tar)
	// Auto stores the layer uncompressed when files of 1 MiB or more hold
	// most of the bytes and look incompressible (model weights, media),
	// and uses Gzip otherwise. The choice depends only on the content.
	Auto Compression = "auto"
)

// ParseCompression validates a compression name: gzip, zstd, none
// (or uncompressed) or auto, in any case.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(strings.TrimSpace(s))); c {
	case Gzip, Zstd, None, Auto:
		return c, nil
	case "uncompressed":
		return None, nil
	}
	return "", optionError("compression", s, "%q is not supported: use gzip, zstd, none or auto", s)
}

// SymlinkMode selects what happens to symbolic links in the tree.
type SymlinkMode string

const (
	// SymlinksPreserve keeps relative links that stay inside the tree as
	// links, and rejects links that are absolute or point outside.
	SymlinksPreserve SymlinkMode = "preserve"
	// SymlinksFollow stores the content of each link's target instead.
	SymlinksFollow SymlinkMode = "follow"
)

// ParseSymlinkMode validates a symlink mode: preserve or follow.
func ParseSymlinkMode(s string) (SymlinkMode, error) {
	switch m := SymlinkMode(strings.ToLower(strings.TrimSpace(s))); m {
	case SymlinksPreserve, SymlinksFollow:
		return m, nil
	}
	return "", optionError("symlinks", s, "%q is not supported: use preserve or follow", s)
}

// maxEpoch is 9999-12-31T23:59:59Z: RFC 3339 timestamps have four-digit years.
const maxEpoch = 253402300799

// ParseSourceDateEpoch parses a SOURCE_DATE_EPOCH-style value: whole seconds
// since 1970-01-01T00:00:00Z, from 0 to 253402300799 (9999-12-31T23:59:59Z).
// name is what the error message calls the value (such as
// "SOURCE_DATE_EPOCH"), and the OptionError's Option.
func ParseSourceDateEpoch(name, value string) (time.Time, error) {
	v := strings.TrimSpace(value)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, optionError(name, value, "%q is not a whole number of seconds since 1970-01-01T00:00:00Z", value)
	}
	if n < 0 || n > maxEpoch {
		return time.Time{}, optionError(name, value, "%q is out of range: use 0 to %d (9999-12-31T23:59:59Z)", value, int64(maxEpoch))
	}
	return time.Unix(n, 0).UTC(), nil
}

// ParsePlatforms parses comma-separated platform lists such as
// "linux/amd64,linux/arm64/v8". Each platform must be one the OCI image spec
// lists (Go's GOOS/GOARCH pairs, and the ARM and x86-64 variants); common
// aliases are written under the name runtimes match (aarch64 as arm64,
// x86_64 as amd64, armhf as arm/v7, i686 as 386: see
// ParsePlatformsWithNotes). Duplicates are an error; the order given is
// kept, because it is the order of the index's manifests. Every value in
// error is reported, one per line.
func ParsePlatforms(values []string) ([]v1.Platform, error) {
	ps, _, err := ParsePlatformsWithNotes(values)
	return ps, err
}

// ParseKeyValues parses key=value pairs (annotations, labels). name is what
// the error message calls a pair (such as "annotation"), and the
// OptionError's Option.
func ParseKeyValues(name string, values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, optionError(name, kv, "%q is not of the form key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// cleanPrefix turns a prefix (WithPrefix) into a slash path without leading or
// trailing slashes ("" for the root). It rejects anything that would escape
// the image root.
func cleanPrefix(p string) (string, error) {
	s := strings.ReplaceAll(p, "\\", "/")
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return "", optionError("prefix", p, "%q contains \"..\": use a path inside the image, such as /site", p)
		}
	}
	c := strings.Trim(path.Clean("/"+s), "/")
	if strings.ContainsRune(c, 0) {
		return "", optionError("prefix", p, "%q contains a NUL byte", p)
	}
	return c, nil
}

type options struct {
	prefix      string
	platforms   []v1.Platform
	compression Compression
	epoch       *time.Time
	useGit      bool
	symlinks    SymlinkMode
	excludes    []string
	allowEmpty  bool
	annotations map[string]string
	labels      map[string]string
	layers      LayerMode
	cacheDir    string
	jobs        int
	limits      LayerLimits
	hooks       hooks.Build
	progress    func(Progress)
}

// Option configures Build.
type Option func(*options) error

func defaultOptions() options {
	return options{
		platforms:   []v1.Platform{{OS: "linux", Architecture: "amd64"}},
		compression: Auto,
		useGit:      true,
		symlinks:    SymlinksPreserve,
		layers:      LayersAuto,
	}
}

// WithPrefix places every file under dir inside the image. The default is
// "/", so a volume mount without subPath shows the files directly; "site"
// gives the common /site layout mounted with subPath: site.
func WithPrefix(dir string) Option {
	return func(o *options) error {
		p, err := cleanPrefix(dir)
		o.prefix = p
		return err
	}
}

// WithPlatforms sets the platforms the image declares. The default is
// linux/amd64 as a single manifest; two or more give an image index whose
// manifests share the same layer blobs.
func WithPlatforms(ps ...v1.Platform) Option {
	return func(o *options) error {
		if len(ps) == 0 {
			return optionError("platform", "", "list is empty: at least one platform is required")
		}
		o.platforms = append([]v1.Platform(nil), ps...)
		return nil
	}
}

// WithCompression sets the layer compression. The default is Auto, decided
// for each layer from its content.
func WithCompression(c Compression) Option {
	return func(o *options) error {
		cc, err := ParseCompression(string(c))
		o.compression = cc
		return err
	}
}

// WithSourceDateEpoch sets the one timestamp used for every tar entry, the
// config's created field and the created annotation. Without it the builder
// uses the commit time of HEAD when the source is inside a git work tree
// (see WithGit), else 1970-01-01T00:00:00Z.
func WithSourceDateEpoch(t time.Time) Option {
	return func(o *options) error {
		if t.Unix() < 0 || t.Unix() > maxEpoch {
			return optionError("source date epoch", strconv.FormatInt(t.Unix(), 10), "%d is out of range: use 0 to %d", t.Unix(), int64(maxEpoch))
		}
		u := time.Unix(t.Unix(), 0).UTC()
		o.epoch = &u
		return nil
	}
}

// WithGit controls whether the enclosing git work tree (if any) provides the
// default timestamp and the source and revision annotations. The default is true.
func WithGit(enabled bool) Option {
	return func(o *options) error { o.useGit = enabled; return nil }
}

// WithSymlinks sets how symbolic links are handled. The default is SymlinksPreserve.
func WithSymlinks(m SymlinkMode) Option {
	return func(o *options) error {
		mm, err := ParseSymlinkMode(string(m))
		o.symlinks = mm
		return err
	}
}

// WithExcludes adds gitignore-style patterns, applied after the root's
// .assetignore. ".git" is always excluded.
func WithExcludes(patterns ...string) Option {
	return func(o *options) error { o.excludes = append(o.excludes, patterns...); return nil }
}

// WithAllowEmpty allows a source tree with no files. The default is to refuse it.
func WithAllowEmpty(allow bool) Option {
	return func(o *options) error { o.allowEmpty = allow; return nil }
}

// WithAnnotations adds manifest (and index) annotations. They override the
// defaults (org.opencontainers.image.created, .source, .revision).
func WithAnnotations(a map[string]string) Option {
	return func(o *options) error {
		if o.annotations == nil {
			o.annotations = map[string]string{}
		}
		for k, v := range a {
			o.annotations[k] = v
		}
		return nil
	}
}

// WithLabels adds labels to the image config.
func WithLabels(l map[string]string) Option {
	return func(o *options) error {
		if o.labels == nil {
			o.labels = map[string]string{}
		}
		for k, v := range l {
			o.labels[k] = v
		}
		return nil
	}
}

// WithLayers sets how files are split into layers. The default is LayersAuto.
func WithLayers(m LayerMode) Option {
	return func(o *options) error {
		mm, err := ParseLayerMode(string(m))
		o.layers = mm
		return err
	}
}

// WithCache keeps, in dir, the digests of each layer under a key made of the
// options and the identity of its files (path, size, mode, inode, device,
// modification and change times). A later build whose files have the same
// identity skips reading them: its layer is deferred, encoded again only if
// something reads it, for example a registry that lacks the blob, which
// also re-checks the digest.
// Files changed in the last two seconds are never cached, so that an edit
// within the file system's timestamp granularity is not missed. "" (the
// default) disables the cache.
func WithCache(dir string) Option {
	return func(o *options) error { o.cacheDir = dir; return nil }
}

// WithJobs bounds how many layers are built at once. The default (0) is
// runtime.GOMAXPROCS. The output never depends on it.
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return optionError("jobs", strconv.Itoa(n), "must not be negative, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// CheckOptions reports every invalid option at once, one per line, where
// Build stops at the first; it reads nothing. A caller can check its
// options before it starts work that a failing Build would waste (such as
// an upload session).
func CheckOptions(opts ...Option) error {
	o := defaultOptions()
	var errs []error
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range o.excludes {
		if err := checkExclude(s); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrors(errs)
}

// WithLayerLimits keeps the layers within lim: at most lim.MaxLayers layers
// and no layer over lim.MaxLayerSize bytes (a target registry's published
// limits; see LayerLimits). A tree whose default plan keeps to them gets
// that plan, so its digest does not depend on the limits; one that would
// break them is planned again within them, or fails with ErrTooLarge
// before anything is encoded. The default is no limit beyond the
// planner's own 64 layers.
func WithLayerLimits(lim LayerLimits) Option {
	return func(o *options) error {
		if lim.MaxLayers < 0 {
			return optionError("layer limits", strconv.Itoa(lim.MaxLayers), "the most layers must not be negative, got %d", lim.MaxLayers)
		}
		if lim.MaxLayerSize < 0 {
			return optionError("layer limits", strconv.FormatInt(lim.MaxLayerSize, 10), "the largest layer must not be negative, got %d", lim.MaxLayerSize)
		}
		o.limits = lim
		return nil
	}
}

// WithHooks connects the build to assetpack's pipeline (package pack): where
// blobs go, which paths to skip, and callbacks that let uploads overlap the
// build. Its argument's type is internal to the assetpack module, so only
// the pipeline can pass one; see package pack for building and pushing in
// one call.
func WithHooks(h hooks.Build) Option {
	return func(o *options) error { o.hooks = h; return nil }
}
