package publish

import (
	"errors"
	"testing"
)

// TestKnownRegistries: each known registry's host gets its policy and its
// published limits; any other host gets neither; WithRegistryProfile gives
// a host a known registry's (or none).
func TestKnownRegistries(t *testing.T) {
	r, err := NewRegistry(WithRegistryProfile("127.0.0.1:5000", "ghcr"), WithRegistryProfile("mirror.example", "ecr"),
		WithRegistryProfile("ghcr.example", "default"), WithRegistryProfile("GHCR.IO:8443", "default"))
	if err != nil {
		t.Fatal(err)
	}
	ghcr := UploadPolicy{MaxChunk: 4 * mib}
	ecr := UploadPolicy{Mode: Chunked, MinChunk: 5 * mib, MaxChunk: 10 * mib, IgnoreRange: true, FinalChunkInPut: true}
	gar := UploadPolicy{NoChunks: true}
	for _, tc := range []struct {
		host     string
		registry string
		layer    int64
		policy   UploadPolicy
	}{
		{"ghcr.io", "GHCR", 10 * gb, ghcr},
		{"ghcr.io:443", "GHCR", 10 * gb, ghcr},
		{"containers.acme.ghe.com", "GHCR", 10 * gb, ghcr},
		{"127.0.0.1:5000", "GHCR", 10 * gb, ghcr},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "Amazon ECR", 52000 * mib, ecr},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "Amazon ECR", 52000 * mib, ecr},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "Amazon ECR", 52000 * mib, ecr},
		{"mirror.example", "Amazon ECR", 52000 * mib, ecr},
		{"europe-west4-docker.pkg.dev", "Google Artifact Registry", 0, gar},
		{"gcr.io", "Google Artifact Registry", 0, gar},
		{"eu.gcr.io", "Google Artifact Registry", 0, gar},
		{"index.docker.io", "Docker Hub", 0, UploadPolicy{}},
		{"registry-1.docker.io", "Docker Hub", 0, UploadPolicy{}},
		{"quay.io", "Quay", 20 * gib, UploadPolicy{}},
		{"acme.azurecr.io", "Azure Container Registry", 200 * gib, UploadPolicy{}},
		{"registry.example.com", "", 0, UploadPolicy{}},
		{"ghcr.example", "", 0, UploadPolicy{}},
		{"ghcr.io:8443", "", 0, UploadPolicy{}},
		{"s3.amazonaws.com", "", 0, UploadPolicy{}},
		{"notgcr.io", "", 0, UploadPolicy{}},
	} {
		l := r.Limits(tc.host)
		if l.Registry != tc.registry || l.MaxLayerSize != tc.layer {
			t.Errorf("Limits(%q) = %+v, want %q with layers up to %d", tc.host, l, tc.registry, tc.layer)
		}
		if tc.registry != "" && l.Source == "" {
			t.Errorf("Limits(%q) names no source", tc.host)
		}
		if p := r.policyFor(tc.host); p != tc.policy {
			t.Errorf("policyFor(%q) = %+v, want %+v", tc.host, p, tc.policy)
		}
	}
	if l := r.Limits("acme.azurecr.io"); l.MaxManifestSize != 4*mib {
		t.Errorf("ACR manifest limit %d, want 4 MiB", l.MaxManifestSize)
	}
}

// TestUploadOverrides: the mode and chunk size options change those parts
// of every host's policy and keep the rest; WithUploadPolicy replaces it.
func TestUploadOverrides(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []RegistryOption
		host string
		want UploadPolicy
	}{
		{"chunk size", []RegistryOption{WithUploadChunkSize(2 * mib)}, "ghcr.io", UploadPolicy{Mode: Chunked, MaxChunk: 2 * mib}},
		{"chunk size, ECR", []RegistryOption{WithUploadChunkSize(8 * mib)}, "1.dkr.ecr.us-east-1.amazonaws.com",
			UploadPolicy{Mode: Chunked, MinChunk: 5 * mib, MaxChunk: 8 * mib, IgnoreRange: true, FinalChunkInPut: true}},
		{"mode", []RegistryOption{WithUploadMode(Monolithic)}, "1.dkr.ecr.us-east-1.amazonaws.com",
			UploadPolicy{Mode: Monolithic, MinChunk: 5 * mib, MaxChunk: 10 * mib, IgnoreRange: true, FinalChunkInPut: true}},
		{"mode and size", []RegistryOption{WithUploadChunkSize(mib), WithUploadMode(Streamed)}, "registry.example", UploadPolicy{Mode: Streamed, MaxChunk: mib}},
		{"chunks asked of GAR", []RegistryOption{WithUploadMode(Chunked)}, "us-docker.pkg.dev", UploadPolicy{Mode: Chunked}},
		{"policy", []RegistryOption{WithUploadPolicy(UploadPolicy{Mode: Streamed}), WithUploadChunkSize(mib)}, "ghcr.io", UploadPolicy{Mode: Streamed}},
	} {
		r, err := NewRegistry(tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p := r.policyFor(tc.host); p != tc.want {
			t.Errorf("%s: policyFor(%q) = %+v, want %+v", tc.name, tc.host, p, tc.want)
		}
	}
	for _, opt := range []RegistryOption{WithUploadChunkSize(1000), WithUploadMode(UploadMode(9)), WithRegistryProfile("x.example", "harbor"), WithRegistryProfile("x.example/path", "ghcr")} {
		_, err := NewRegistry(opt)
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("NewRegistry() = %v, want an OptionError", err)
		}
	}
	if m, err := ParseUploadMode(" Chunked "); err != nil || m != Chunked {
		t.Errorf("ParseUploadMode = %v, %v", m, err)
	}
	if _, err := ParseUploadMode("resumable"); err == nil || err.Error() != `upload mode "resumable" is not supported: use auto, monolithic, streamed or chunked` {
		t.Errorf("ParseUploadMode(resumable) = %v", err)
	}
}
