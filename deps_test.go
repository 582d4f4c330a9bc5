package assetpack_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the package boundaries of STYLE: libraries never import
// the CLI, cobra or sigstore; only cmd/ wires packages together.
func TestLayering(t *testing.T) {
	forbidden := map[string][]string{
		"./builder": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/publish", "github.com/assetpack/assetpack/pack", "github.com/assetpack/assetpack/cmd/"},
		"./publish": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/builder", "github.com/assetpack/assetpack/pack", "github.com/assetpack/assetpack/cmd/"},
		// pack wires the libraries; it takes a sign.Signer, so a program that
		// never signs does not link sigstore.
		"./pack": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/cmd/"},
		// attest describes images; it neither builds, signs nor pushes.
		"./attest": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/builder",
			"github.com/assetpack/assetpack/publish", "github.com/assetpack/assetpack/cmd/"},
		"./sign": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/cmd/"},
		// unpack writes any image's files; it neither builds, pushes nor signs.
		"./unpack": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/builder",
			"github.com/assetpack/assetpack/publish", "github.com/assetpack/assetpack/pack", "github.com/assetpack/assetpack/cmd/"},
		// kube is pure: it never talks to a registry.
		"./kube": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/google/go-containerregistry/pkg/v1/remote",
			"github.com/assetpack/assetpack/publish", "github.com/assetpack/assetpack/builder", "github.com/assetpack/assetpack/cmd/"},
		// modelpack is pure: it describes built layers; no registry, no pipeline.
		"./modelpack": {"github.com/spf13/cobra", "github.com/sigstore/", "github.com/assetpack/assetpack/publish",
			"github.com/assetpack/assetpack/pack", "github.com/assetpack/assetpack/cmd/", "github.com/santhosh-tekuri/"},
		// The binary links no JSON Schema library: their package
		// initialisation compiles every draft's metaschema before main
		// (config/ and modelpack/ interpret their schemas instead).
		"./cmd/assetpack": {"github.com/santhosh-tekuri/"},
		// The release's assetpack (-tags lite) starts without initialising
		// cosign, sigstore, the KMS SDKs, the Rekor client's go-openapi or
		// kyaml: it hands the commands that need them to assetpack-sigstore.
		"-tags=lite ./cmd/assetpack": {"github.com/santhosh-tekuri/", "github.com/sigstore/", "github.com/assetpack/assetpack/sign/cosign",
			"sigs.k8s.io/kustomize/kyaml", "github.com/aws/", "cloud.google.com/go/kms", "github.com/Azure/", "github.com/hashicorp/vault",
			"github.com/go-openapi/strfmt", "github.com/go-openapi/runtime", "github.com/assetpack/assetpack/kube/krmfn"},
		// policy is pure: no network, no registry, no pipeline.
		"./policy": {"github.com/spf13/cobra", "github.com/sigstore/", "net/http", "github.com/google/go-containerregistry/",
			"github.com/assetpack/assetpack/builder", "github.com/assetpack/assetpack/publish", "github.com/assetpack/assetpack/sign", "github.com/assetpack/assetpack/pack", "github.com/assetpack/assetpack/cmd/"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, strings.Fields(pkg)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
