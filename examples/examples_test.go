// Package examples_test checks that every example builds to the output its
// README promises.
package examples_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
)

func TestSiteExample(t *testing.T) {
	want, err := os.ReadFile("site/expected-digest.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "site")
	var stdout, stderr bytes.Buffer
	// The command from site/README.md.
	code := cli.Run(context.Background(), []string{"build", "site", "--prefix", "site",
		"--source-date-epoch", "1700000000", "--git=false", "--output", "oci:" + out}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got, want := stdout.String(), "oci:"+out+"@"+strings.TrimSpace(string(want))+"\n"; got != want {
		t.Errorf("stdout = %q, want %q (update site/README.md and site/expected-digest.txt only for a deliberate change)", got, want)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	ii, _ := p.ImageIndex()
	im, _ := ii.IndexManifest()
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	defer rc.Close()
	var tarball bytes.Buffer
	tarball.ReadFrom(rc)
	for _, name := range []string{"site/index.html", "site/css/site.css", "site/js/app.js", "site/img/logo.svg"} {
		if !bytes.Contains(tarball.Bytes(), []byte(name)) {
			t.Errorf("image lacks %s", name)
		}
	}
	for _, name := range []string{"README.md", "expected-digest.txt", ".assetignore"} {
		if bytes.Contains(tarball.Bytes(), []byte(name)) {
			t.Errorf("image contains %s, which .assetignore leaves out", name)
		}
	}
}

// TestSiteComponent checks that examples/site/k8s/assets is what
// `assetpack patch … --format kustomize` writes for the expected digest
// (the command is in site/README.md).
func TestSiteComponent(t *testing.T) {
	digest, _ := os.ReadFile("site/expected-digest.txt")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"patch", "registry.example.com/web/site-assets@" + strings.TrimSpace(string(digest)),
		"--workload", "deployment/web", "--container", "nginx", "--mount-path", "/usr/share/nginx/html", "--sub-path", "site",
		"--format", "kustomize", "--output", out, "-f", "site/k8s/base/deployment.yaml"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"kustomization.yaml", "assets-patch.yaml"} {
		got, _ := os.ReadFile(filepath.Join(out, f))
		want, err := os.ReadFile(filepath.Join("site", "k8s", "assets", f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("site/k8s/assets/%s is stale (%v); regenerate it with the command in site/README.md:\n%s", f, err, got)
		}
	}
}
