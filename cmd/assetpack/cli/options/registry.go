package options

import (
	"os"
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
}

// AddFlags registers the flags of every command that talks to registries,
// and only of those.
func (r *Registry) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.Debug, "debug", os.Getenv("ASSETPACK_DEBUG") != "", "log registry requests and responses on stderr (also $ASSETPACK_DEBUG); credentials and token responses are redacted")
	fs.StringArrayVar(&r.Insecure, "insecure-registry", nil, "allow plain HTTP and unverified TLS for this registry host[:port] (repeatable; also $ASSETPACK_INSECURE_REGISTRIES, comma-separated; loopback hosts are always allowed plain HTTP)")
	fs.DurationVar(&r.Timeout, "registry-timeout", publish.DefaultTimeout, "how long to wait for the registry to answer a request before retrying or failing")
	r.Jobs = publish.DefaultJobs
}

// AddPushFlags registers AddFlags' flags and those of commands that
// upload images.
func (r *Registry) AddPushFlags(fs *pflag.FlagSet) {
	r.AddFlags(fs)
	fs.IntVar(&r.Jobs, "jobs", publish.DefaultJobs, "how many blobs to upload in parallel")
	fs.StringVar(&r.MountFrom, "mount-from", "", "REGISTRY/REPOSITORY on the same registry that may hold the blobs already: mount them from there instead of uploading")
}

// RegistryOptions converts the flags (and ASSETPACK_INSECURE_REGISTRIES) to publish options.
func (r *Registry) RegistryOptions() []publish.RegistryOption {
	hosts := append([]string(nil), r.Insecure...)
	for _, h := range strings.Split(os.Getenv("ASSETPACK_INSECURE_REGISTRIES"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return []publish.RegistryOption{publish.WithInsecureRegistries(hosts...), publish.WithJobs(r.Jobs), publish.WithMountFrom(r.MountFrom), publish.WithTimeout(r.Timeout)}
}

// Tags holds -t/--tag and --push.
type Tags struct {
	Tags []string
	Push bool
}

// AddFlags registers the tag flags.
func (t *Tags) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&t.Tags, "tag", "t", nil, "REGISTRY/REPOSITORY:TAG to push to (repeatable: one upload, every tag set)")
	fs.BoolVar(&t.Push, "push", false, "push the image to the -t tags and print its digest reference")
}
