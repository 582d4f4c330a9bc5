package publish

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Registries as users meet them. Each known registry gets the upload policy
// that its published limits and its users' reports call for, and the limits
// that a push is checked against before its first byte (see Limits). The
// table is matched on the registry host; WithRegistryProfile applies an
// entry to another host (a mirror, GitHub Enterprise's containers.* host, a
// proxy in a test). What a registry says while pushing (its
// OCI-Chunk-Min-Length, a 413 or a 416 naming a size limit, a refused PATCH)
// adjusts the policy further, for the rest of the push.

// Limits are what a registry accepts, as far as it publishes them; a zero
// field is not known (no check).
type Limits struct {
	// MaxLayerSize is the largest blob the registry takes, in bytes.
	MaxLayerSize int64
	// MaxLayers is the most layers an image may have there.
	MaxLayers int
	// MaxManifestSize is the largest manifest it takes, in bytes.
	MaxManifestSize int64
	// Registry names the registry the limits are published for ("GHCR"),
	// "" when the host is not a known one.
	Registry string
	// Source is where the limits are published.
	Source string
}

// Sizes as registries publish them.
const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
	gb  = 1000 * 1000 * 1000
)

// ManifestSizeLimit is the manifest size that every registry should accept:
// the OCI distribution spec asks clients and registries to support manifest
// pushes of at least 4 MiB and lets a registry refuse larger ones
// (opencontainers/distribution-spec#293). Distribution 2.8 caps a manifest
// PUT at exactly that (registry/handlers/manifests.go, maxManifestBodySize)
// and answers 400 MANIFEST_INVALID "http: request body too large"; ACR
// documents 4 MiB too.
const ManifestSizeLimit = 4 * mib

// hostProfile is one entry of the table: a known registry.
type hostProfile struct {
	name   string // the name users know it by, in notes and errors
	key    string // its name for WithRegistryProfile
	match  func(host string) bool
	policy UploadPolicy
	limits Limits
}

// profiles are the known registries. Every value has its source beside it.
var profiles = []hostProfile{
	{
		name: "GHCR", key: "ghcr",
		// ghcr.io, and GitHub Enterprise Cloud with data residency, whose
		// registry is containers.SUBDOMAIN.ghe.com (GitHub docs, "Working
		// with the Container registry").
		match: func(h string) bool {
			return h == "ghcr.io" || (strings.HasPrefix(h, "containers.") && strings.HasSuffix(h, ".ghe.com"))
		},
		policy: UploadPolicy{
			// A PATCH that declares more than 4 MiB is refused with "416
			// REQUESTED_RANGE_NOT_SATISFIABLE: the request body is too large
			// and exceeds the maximum permissible limit of 4.00MiB"
			// (ocx-sh/ocx#237, oras-project/rust-oci-client#35); a PATCH
			// without a declared length, as go-containerregistry and docker
			// stream, and a monolithic PUT are taken (kitops-ml/kitops pushes
			// to ghcr.io monolithically for that reason,
			// pkg/lib/repo/remote/upload-format.go). So: monolithic by
			// default, and every PATCH that declares a length (chunks, the
			// rest of a resumed stream) declares at most 4 MiB.
			MaxChunk: 4 * mib,
		},
		limits: Limits{
			// "The Container registry has a 10 GB size limit for each layer"
			// (and a 10 minute timeout for uploads).
			MaxLayerSize: 10 * gb,
			Source:       "https://docs.github.com/en/packages/working-with-a-github-packages-registry/working-with-the-container-registry#troubleshooting",
		},
	},
	{
		name: "Amazon ECR", key: "ecr",
		// ACCOUNT.dkr.ecr.REGION.amazonaws.com, .amazonaws.com.cn in China,
		// and the dkr.ecr-fips hosts.
		match: func(h string) bool {
			return (strings.Contains(h, ".dkr.ecr.") || strings.Contains(h, ".dkr.ecr-fips.")) &&
				(strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn"))
		},
		policy: UploadPolicy{
			// ECR stores uploads as multipart parts of at least 5 MiB but
			// the last ("LayerPartTooSmallException: All layer parts except
			// the last part should be at least 5MB",
			// dotnet/sdk-container-builds#424) and of at most 10 MiB when
			// pushed through its API (service quotas, "Maximum layer part
			// size"). Chunks of 10 MiB make a cut cost at most one part: the
			// Range of its PATCH answers stops advancing while the parts are
			// stored (aws/containers-roadmap#2831), so the engine counts the
			// offset itself; an empty final PUT after chunks has answered 500
			// (cirruslabs/tart#159), so the last chunk goes in the PUT.
			Mode:            Chunked,
			MinChunk:        5 * mib,
			MaxChunk:        10 * mib,
			IgnoreRange:     true,
			FinalChunkInPut: true,
		},
		limits: Limits{
			// "Maximum layer size: 52,000 MiB".
			MaxLayerSize: 52000 * mib,
			Source:       "https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html",
		},
	},
	{
		name: "Google Artifact Registry", key: "gar",
		// REGION-docker.pkg.dev, and Container Registry's gcr.io hosts
		// (now served by Artifact Registry).
		match: func(h string) bool {
			return strings.HasSuffix(h, "-docker.pkg.dev") || h == "gcr.io" || strings.HasSuffix(h, ".gcr.io")
		},
		policy: UploadPolicy{
			// "Artifact Registry does not support Docker chunked uploads
			// ... You must use monolithic uploads" (Artifact Registry, Docker
			// API reference, quoted in dotnet/sdk-container-builds#287;
			// kitops-ml/kitops#777): no PATCH with Content-Range. A single
			// streamed PATCH, as docker pushes, is taken.
			NoChunks: true,
		},
		limits: Limits{
			// No layer limit is published; requests time out after 2 hours
			// (Container Registry quotas).
			Source: "https://cloud.google.com/artifact-registry/docs/reference/docker-api",
		},
	},
	{
		name: "Docker Hub", key: "dockerhub",
		match: func(h string) bool {
			return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io"
		},
		// Distribution's upload protocol; rate limits answer 429 (Docker
		// Hub usage and limits), which the retry policy waits out. No
		// layer limit is published.
		limits: Limits{Source: "https://docs.docker.com/docker-hub/usage/"},
	},
	{
		name: "Quay", key: "quay",
		match: func(h string) bool { return h == "quay.io" },
		limits: Limits{
			// Quay's MAXIMUM_LAYER_SIZE defaults to "20G" (quay/quay,
			// config.py); quay.io does not publish its own value.
			MaxLayerSize: 20 * gib,
			Source:       "https://github.com/quay/quay/blob/master/config.py",
		},
	},
	{
		name: "Azure Container Registry", key: "acr",
		match: func(h string) bool { return strings.HasSuffix(h, ".azurecr.io") },
		limits: Limits{
			// "Maximum image layer size (GiB): 200", "Maximum manifest
			// size (MiB): 4", every tier.
			MaxLayerSize:    200 * gib,
			MaxManifestSize: 4 * mib,
			Source:          "https://learn.microsoft.com/azure/container-registry/container-registry-skus",
		},
	},
}

// profileNames lists the keys WithRegistryProfile takes.
func profileNames() []string {
	names := []string{"default"}
	for _, p := range profiles {
		names = append(names, p.key)
	}
	return names
}

// bareHost is host without its port, lower case.
func bareHost(host string) string {
	h := strings.ToLower(host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.Trim(h, "[]")
}

// profileFor is the known registry serving host (host or host:port), by
// WithRegistryProfile first, then by the table; ok is false for a registry
// that is not known.
func (r *Registry) profileFor(host string) (hostProfile, bool) {
	key, ok := r.hostProfiles[strings.ToLower(host)]
	if !ok {
		key, ok = r.hostProfiles[bareHost(host)]
	}
	if ok {
		i := slices.IndexFunc(profiles, func(p hostProfile) bool { return p.key == key })
		if i < 0 {
			return hostProfile{}, false // "default"
		}
		return profiles[i], true
	}
	h := bareHost(host)
	for _, p := range profiles {
		if p.match(h) {
			return p, true
		}
	}
	return hostProfile{}, false
}

// Limits are the limits that host (host or host:port) is known to enforce:
// a known registry's published ones (GHCR's 10 GB per layer, ECR's 52,000
// MiB, …), with its name and the page that publishes them; the zero Limits
// for a registry that is not known.
func (r *Registry) Limits(host string) Limits {
	p, ok := r.profileFor(host)
	if !ok {
		return Limits{}
	}
	l := p.limits
	l.Registry = p.name
	return l
}

// WithRegistryProfile treats host (host or host:port) as the known registry
// named profile: "ghcr", "ecr", "gar", "dockerhub", "quay", "acr", or
// "default" for none. It is for a registry that is one of those under
// another name (a pull-through mirror, a private endpoint), or that is not
// one of them under a name the table would take for it.
func WithRegistryProfile(host, profile string) RegistryOption {
	return func(r *Registry) error {
		h := strings.ToLower(strings.TrimSpace(host))
		if h == "" || strings.Contains(h, "/") {
			return optionError("registry profile", host, "host %q must be a host or host:port, such as registry.example:5000", host)
		}
		p := strings.ToLower(strings.TrimSpace(profile))
		if !slices.Contains(profileNames(), p) {
			return optionError("registry profile", profile, "%q is not a known registry: use %s", profile, strings.Join(profileNames(), ", "))
		}
		r.hostProfiles[h] = p
		return nil
	}
}

// LayerLimit names the layer limit and where it is published, for
// messages: "GHCR's layer limit of 10 GB (https://…)"; "" when none is
// known.
func (l Limits) LayerLimit() string {
	if l.MaxLayerSize <= 0 {
		return ""
	}
	return l.describe("layer", l.MaxLayerSize)
}

// describe names a limit and where it comes from, for errors: "GHCR's
// layer limit of 10 GB (https://…)".
func (l Limits) describe(what string, n int64) string {
	s := fmt.Sprintf("%s limit of %s", what, sizeString(n))
	if l.Registry != "" {
		s = l.Registry + "'s " + s
	}
	if l.Source != "" {
		s += " (" + l.Source + ")"
	}
	return s
}

// sizeString writes n bytes for people: exact for small numbers, else in
// the unit that registries publish (GB for GHCR's decimal limit).
func sizeString(n int64) string {
	switch {
	case n >= gb && n%gb == 0:
		return fmt.Sprintf("%d GB", n/gb)
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	case n >= gib:
		return fmt.Sprintf("%.1f GiB (%d bytes)", float64(n)/gib, n)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/mib, n)
	}
	return fmt.Sprintf("%d bytes", n)
}
