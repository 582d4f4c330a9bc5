// Package examples_test checks that every example builds to the output its
// README promises.
package examples_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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

// TestMoreExamples builds each example with the command in its README and
// compares the digest with its expected-digest.txt.
func TestMoreExamples(t *testing.T) {
	for _, tc := range []struct {
		name, dir string
		args      []string
	}{
		{"model", "model", []string{"--prefix", "model", "--compression", "none"}},
		{"opa", "opa/policy", nil},
		{"grafana", "grafana/dashboards", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(tc.name, "expected-digest.txt"))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			args := append([]string{"build", tc.dir, "--source-date-epoch", "1700000000", "--git=false", "--output", "oci:" + out}, tc.args...)
			if code := cli.Run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := strings.TrimPrefix(strings.TrimSpace(stdout.String()), "oci:"+out+"@"); got != strings.TrimSpace(string(want)) {
				t.Errorf("digest %s, want %s (update %s/README.md and expected-digest.txt only deliberately)", got, want, tc.name)
			}
		})
	}
}

// TestOPABundleLayer: the OPA example's only layer is a gzip tarball with
// the bundle at its root, which is what OPA's OCI downloader expects.
func TestOPABundleLayer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"build", "opa/policy", "--git=false", "--output", "oci:" + out}, nil, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	p, _ := layout.FromPath(out)
	ii, _ := p.ImageIndex()
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("want a single image manifest, got %+v", im.Manifests)
	}
	img, _ := ii.Image(im.Manifests[0].Digest)
	ls, _ := img.Layers()
	mt, _ := ls[0].MediaType()
	if len(ls) != 1 || mt != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("layers: %d, media type %s", len(ls), mt)
	}
	rc, _ := ls[0].Compressed()
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatalf("the layer is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	for _, n := range []string{".manifest", "authz.rego", "httpapi/data.json"} {
		if !names[n] {
			t.Errorf("bundle tarball lacks %s (has %v)", n, names)
		}
	}
}

// TestBuildWithConfig runs `assetpack build` with no arguments in a copy
// of each example directory that has an assetpack.yaml, as a user who
// copies one would: its settings must give the digest of the command in
// the example's README (expected-digest.txt), with SOURCE_DATE_EPOCH for
// the timestamp and no git checkout around the copy. A second build in the
// same directory, whose source now holds assetpack-out/, gives the same
// digest.
func TestBuildWithConfig(t *testing.T) {
	configs, err := filepath.Glob("*/assetpack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every example that needs settings to build has its assetpack.yaml.
	want := map[string]string{"site": "site", "model": "model", "opa": "policy", "grafana": "dashboards", "makefile": "site",
		// The serving examples (serving_test.go pushes them too); kserve
		// packs vllm's model directory.
		"vllm": "model", "llamacpp": "model", "kserve": "model"}
	found := map[string]bool{}
	for _, c := range configs {
		found[filepath.Dir(c)] = true
	}
	for name := range want {
		if !found[name] {
			t.Errorf("examples/%s has no assetpack.yaml", name)
		}
	}
	for _, c := range configs {
		name := filepath.Dir(c)
		t.Run(name, func(t *testing.T) {
			// A copy of every example: one may name another's files.
			root := t.TempDir()
			if err := os.CopyFS(root, os.DirFS(".")); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, name)
			t.Chdir(dir)
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			t.Setenv("ASSETPACK_CONFIG", "")
			var digests []string
			for i := 0; i < 2; i++ {
				var stdout, stderr bytes.Buffer
				if code := cli.Run(context.Background(), []string{"build"}, nil, &stdout, &stderr); code != 0 {
					t.Fatalf("assetpack build in examples/%s: exit %d: %s", name, code, stderr.String())
				}
				out := strings.TrimSpace(stdout.String())
				prefix := "oci:assetpack-out/" + want[name] + "@"
				if !strings.HasPrefix(out, prefix) {
					t.Fatalf("stdout = %q, want %s…", out, prefix)
				}
				digests = append(digests, strings.TrimPrefix(out, prefix))
			}
			if digests[0] != digests[1] {
				t.Errorf("the second build gave %s, the first %s", digests[1], digests[0])
			}
			if b, err := os.ReadFile("expected-digest.txt"); err == nil {
				if exp := strings.TrimSpace(string(b)); digests[0] != exp {
					t.Errorf("digest %s, want %s (expected-digest.txt): assetpack.yaml and the README's command disagree", digests[0], exp)
				}
			}
			if name == "makefile" {
				// No expected digest: the files sit under /site.
				p, err := layout.FromPath(filepath.Join("assetpack-out", "site"))
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
				h, err := tar.NewReader(rc).Next()
				if err != nil || !strings.HasPrefix(h.Name, "site") {
					t.Errorf("first entry %v (%v), want one under site/", h, err)
				}
			}
		})
	}
}
