package pack_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// TestRunPlatformSources: one directory per platform gives the index
// builder.BuildPlatforms computes, written locally and pushed (the larger
// layer of one platform uploads while it is hashed), each platform's
// manifest with its own layers.
func TestRunPlatformSources(t *testing.T) {
	ctx := context.Background()
	amd, arm := site(t), t.TempDir()
	os.WriteFile(filepath.Join(arm, "program"), []byte("arm64\n"), 0o755)
	sources := []builder.PlatformSource{
		{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Dir: amd},
		{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Dir: arm},
	}
	ref, err := builder.BuildPlatforms(ctx, sources, builder.WithGit(false), builder.WithSourceDateEpoch(epoch))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()

	out := filepath.Join(t.TempDir(), "out")
	local, err := pack.Run(ctx, pack.Spec{PlatformSources: sources, Image: image(), Output: publish.Target{Kind: publish.Layout, Path: out}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if local.Digest != ref.Digest {
		t.Errorf("local: %s, BuildPlatforms alone: %s", local.Digest, ref.Digest)
	}

	host := testregistry.New(t)
	pushed, err := pack.Run(ctx, pack.Spec{PlatformSources: sources, Image: image(), Tags: []string{host + "/tools/bin:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pushed.Close()
	if pushed.Digest != ref.Digest {
		t.Errorf("pushed: %s, want %s", pushed.Digest, ref.Digest)
	}
	r, _ := name.ParseReference(host + "/tools/bin:v1")
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 {
		t.Fatalf("pushed index lists %d manifests", len(im.Manifests))
	}
	layers := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		if cfg.Architecture != d.Platform.Architecture {
			t.Errorf("%s: config architecture %s", d.Platform, cfg.Architecture)
		}
		ls, _ := img.Layers()
		for _, l := range ls {
			dg, _ := l.Digest()
			layers[dg] = true
			if _, err := remote.Layer(r.Context().Digest(dg.String())); err != nil {
				t.Errorf("layer %s: %v", dg, err)
			}
		}
	}
	if len(layers) < 2 {
		t.Errorf("the platforms share their layers: %v", layers)
	}
}

func TestRunPlatformSourcesSpecErrors(t *testing.T) {
	dir := site(t)
	sources := []builder.PlatformSource{{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Dir: dir}}
	for name, spec := range map[string]pack.Spec{
		"with Source":          {Source: dir, PlatformSources: sources},
		"with Image.Platforms": {PlatformSources: sources, Image: pack.Image{Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := pack.Run(context.Background(), spec); !errors.Is(err, pack.ErrInvalidSpec) {
				t.Errorf("Run() = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

// TestRunPlatformSourcesAttested: a per-platform build pushed with --sign
// gets its SBOM and provenance like any other (the release image is built
// this way); the provenance names the platforms' directories.
func TestRunPlatformSourcesAttested(t *testing.T) {
	amd, arm := site(t), t.TempDir()
	os.WriteFile(filepath.Join(arm, "program"), []byte("arm64\n"), 0o755)
	sources := []builder.PlatformSource{
		{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Dir: amd},
		{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Dir: arm},
	}
	host := testregistry.New(t)
	rec := &recorder{}
	res, err := pack.Run(context.Background(), pack.Spec{PlatformSources: sources, Image: image(), Tags: []string{host + "/tools/bin:v1"},
		Sign: &pack.Sign{Signer: rec, Recursive: true, SBOM: attest.SPDX, Provenance: true, Version: "v1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if len(rec.statements) != 6 { // the index and two images, an SBOM and a provenance each
		t.Fatalf("%d statements, want 6", len(rec.statements))
	}
	want := `"platformSources":["linux/amd64=` + amd + `","linux/arm64=` + arm + `"]`
	provenances := 0
	for _, st := range rec.statements {
		_, typ, pred := st.decode(t)
		if typ != attest.ProvenancePredicateType {
			continue
		}
		provenances++
		if b, _ := json.Marshal(pred); !strings.Contains(string(b), want) {
			t.Errorf("the provenance lacks %s: %s", want, b)
		}
	}
	if provenances != 3 {
		t.Errorf("%d provenances, want 3", provenances)
	}
}
