package pack

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/assetpack/assetpack/publish"
)

// TestLayerLimits: the build is planned within the strictest layer limits
// of the registries pushed to, and the caller's cap on layers.
func TestLayerLimits(t *testing.T) {
	reg, err := publish.NewRegistry(publish.WithRegistryProfile("127.0.0.1:5000", "quay"))
	if err != nil {
		t.Fatal(err)
	}
	var tags []name.Tag
	for _, s := range []string{"registry.example/web/site:v1", "127.0.0.1:5000/web/site:v1", "ghcr.io/acme/site:v1"} {
		tg, err := reg.ParseTag(s)
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tg)
	}
	if lim := layerLimits(reg, tags[:1], 0); lim.MaxLayerSize != 0 || lim.MaxLayers != 0 {
		t.Errorf("an unknown registry: %+v, want no limits", lim)
	}
	lim := layerLimits(reg, tags, 12)
	if lim.MaxLayerSize != 10_000_000_000 || lim.MaxLayers != 12 || !strings.HasPrefix(lim.Reason, "GHCR's layer limit of 10 GB (https://docs.github.com/") {
		t.Errorf("GHCR and Quay: %+v, want GHCR's 10 GB with its source, and the 12 layers asked for", lim)
	}
	if lim := layerLimits(reg, tags[1:2], 0); lim.MaxLayerSize != 20<<30 || !strings.HasPrefix(lim.Reason, "Quay's layer limit of 20 GiB") {
		t.Errorf("a host given Quay's profile: %+v", lim)
	}
}
