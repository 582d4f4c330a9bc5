package options

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/publish"
)

// Registry holds the flags that talk to registries.
type Registry struct {
	Insecure  []string
	Jobs      int
	MountFrom string
	Timeout   time.Duration
	Debug     bool // read by the root command, which sets up the log
	// UploadMode and UploadChunkSize override every registry's upload
	// policy (as given: "chunked", "8MiB"); Profiles are HOST=PROFILE.
	UploadMode      string
	UploadChunkSize string
	Profiles        []string
}

// AddFlags registers the flags of every command that talks to registries,
// and only of those.
func (r *Registry) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.Debug, "debug", os.Getenv("ASSETPACK_DEBUG") != "", "log registry requests and responses on stderr (also $ASSETPACK_DEBUG); credentials and token responses are redacted")
	StringArrayVar(fs, &r.Insecure, "insecure-registry", nil, "allow plain HTTP and unverified TLS for this registry host[:port] (repeatable; also $ASSETPACK_INSECURE_REGISTRIES, comma-separated; loopback hosts are always allowed plain HTTP)")
	fs.DurationVar(&r.Timeout, "registry-timeout", publish.DefaultTimeout, "how long to wait for the registry to answer a request before retrying or failing")
	r.Jobs = publish.DefaultJobs
}

// AddPushFlags registers AddFlags' flags and those of commands that
// upload images.
func (r *Registry) AddPushFlags(fs *pflag.FlagSet) {
	r.AddFlags(fs)
	fs.IntVar(&r.Jobs, "jobs", publish.DefaultJobs, "how many blobs to upload in parallel (a blob of at most 64 KiB, such as the config, may take one more slot)")
	fs.StringVar(&r.MountFrom, "mount-from", "", "REGISTRY/REPOSITORY on the same registry that may hold the blobs already: mount them from there instead of uploading")
	fs.StringVar(&r.UploadMode, "upload-mode", "auto", "how blobs are sent: auto (each registry's own way: one PUT per blob on most, chunks on ECR), monolithic (one PUT), streamed (one PATCH) or chunked (PATCHes of --upload-chunk-size)")
	fs.StringVar(&r.UploadChunkSize, "upload-chunk-size", "", "size of each PATCH chunk, such as 4MiB or 10MB (implies --upload-mode chunked unless it is given; a registry's announced minimum still applies)")
	StringArrayVar(fs, &r.Profiles, "registry-profile", nil, "HOST=PROFILE: treat a registry host as one whose upload rules and limits assetpack knows (ghcr, ecr, gar, dockerhub, quay, acr, or default for none), e.g. a mirror or a private endpoint (repeatable)")
}

// RegistryOptions converts the flags (and ASSETPACK_INSECURE_REGISTRIES) to publish options.
func (r *Registry) RegistryOptions() []publish.RegistryOption {
	hosts := append([]string(nil), r.Insecure...)
	for _, h := range strings.Split(os.Getenv("ASSETPACK_INSECURE_REGISTRIES"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	opts := []publish.RegistryOption{publish.WithInsecureRegistries(hosts...), publish.WithJobs(r.Jobs), publish.WithMountFrom(r.MountFrom), publish.WithTimeout(r.Timeout)}
	if r.UploadMode != "" {
		opts = append(opts, func(reg *publish.Registry) error {
			m, err := publish.ParseUploadMode(r.UploadMode)
			if err != nil {
				return err
			}
			return publish.WithUploadMode(m)(reg)
		})
	}
	if r.UploadChunkSize != "" {
		opts = append(opts, func(reg *publish.Registry) error {
			n, err := ParseSize(r.UploadChunkSize)
			if err != nil {
				return fmt.Errorf("--upload-chunk-size %q: %v", r.UploadChunkSize, err)
			}
			return publish.WithUploadChunkSize(n)(reg)
		})
	}
	for _, p := range r.Profiles {
		host, profile, ok := strings.Cut(p, "=")
		opts = append(opts, func(reg *publish.Registry) error {
			if !ok {
				return fmt.Errorf("--registry-profile %q: want HOST=PROFILE, such as registry.example:5000=ghcr", p)
			}
			return publish.WithRegistryProfile(host, profile)(reg)
		})
	}
	return opts
}

// ParseSize reads a size in bytes: a number, optionally followed by a
// unit (B, KB, MB, GB in powers of 1000; KiB, MiB, GiB, and K, M, G, in
// powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a size: use a number of bytes, optionally with a unit such as KiB, MiB, MB")
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q: use B, KB, MB, GB, KiB, MiB or GiB", unit)
	}
	return int64(v * mult), nil
}

// Tags holds -t/--tag and --push.
type Tags struct {
	Tags []string
	Push bool
}

// AddFlags registers the tag flags.
func (t *Tags) AddFlags(fs *pflag.FlagSet) {
	StringArrayVarP(fs, &t.Tags, "tag", "t", nil, "REGISTRY/REPOSITORY:TAG to push to (repeatable: one upload, every tag set)")
	fs.BoolVar(&t.Push, "push", false, "push the image to the -t tags and print its digest reference")
}
