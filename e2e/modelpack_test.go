//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specschema "github.com/modelpack/model-spec/schema"
	spec "github.com/modelpack/model-spec/specs-go/v1"
)

// copyExampleModel copies examples/model's files (what its .assetignore
// keeps) to dst and returns the snapshot an image volume must show.
func copyExampleModel(t testing.TB, dst string) map[string]node {
	t.Helper()
	src := filepath.Join(repoRoot(t), "examples", "model")
	for _, p := range []string{"config.json", "tokenizer.json", "weights/model-00001-of-00002.safetensors", "weights/model-00002-of-00002.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, p))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dst, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return normalised(snapshot(t, dst))
}

// TestModelPackTwin is the "done when" on Debian's docker-registry
// (no referrers API: the tag schema): from one build --push --modelpack,
// crane sees the image, oras discover lists the ModelPack referrer, its
// config passes model-spec's validator, both manifests name the same layer
// digests, and every blob was uploaded once.
func TestModelPackTwin(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	copyExampleModel(t, filepath.Join(work, "tiny"))
	os.WriteFile(filepath.Join(work, "model.yaml"), []byte("descriptor:\n  name: tiny-example\n  family: llama\n  licenses: [Apache-2.0]\nconfig:\n  architecture: transformer\n  paramSize: 25k\n  precision: float32\n"), 0o644)
	repo := reg.Host + "/ml/tiny"
	b := runEnv(t, work, nil, "", bin, "build", "tiny", "--git=false", "--prefix", "model", "-t", repo+":v1", "--push",
		"--modelpack", "--model-metadata", "model.yaml", "--debug")
	if b.code != 0 {
		t.Fatalf("build: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	digest := ref[strings.Index(ref, "@")+1:]

	// Every blob was uploaded once (the completing PUT names its digest),
	// and the ModelPack manifest came before the tag.
	puts := map[string]int{}
	for _, m := range regexp.MustCompile(`--> PUT \S+/blobs/uploads/\S*digest=(sha256:[0-9a-f]{64})`).FindAllStringSubmatch(b.stderr, -1) {
		puts[m[1]]++
	}
	for d, n := range puts {
		if n != 1 {
			t.Errorf("blob %s uploaded %d times", d, n)
		}
	}
	if len(puts) != 3+1+1 { // the layers, the image config, the model config
		t.Errorf("%d blobs uploaded, want 5: %v", len(puts), puts)
	}
	tagPut := strings.Index(b.stderr, "--> PUT http://"+repo[:strings.Index(repo, "/")]+"/v2/ml/tiny/manifests/v1 ")
	twinPut := strings.Index(b.stderr, "--> PUT http://"+repo[:strings.Index(repo, "/")]+"/v2/ml/tiny/manifests/sha256-"+strings.TrimPrefix(digest, "sha256:"))
	if tagPut < 0 || twinPut < 0 || twinPut > tagPut {
		t.Errorf("the tag-schema index (at %d) was not written before the tag (at %d):\n%s", twinPut, tagPut, b.stderr)
	}

	// crane sees the image: an OCI image manifest, no artifactType.
	crane := tool(t, "crane")
	var img v1.Manifest
	if err := json.Unmarshal([]byte(run(t, work, crane, "manifest", "--insecure", repo+":v1")), &img); err != nil {
		t.Fatal(err)
	}
	if img.ArtifactType != "" || img.Config.MediaType != "application/vnd.oci.image.config.v1+json" || len(img.Layers) != 3 {
		t.Fatalf("crane manifest: %+v, want the image (3 layers)", img)
	}
	tags := strings.Fields(run(t, work, crane, "ls", "--insecure", repo))
	t.Logf("crane ls %s: %v", repo, tags)

	// oras discover lists the twin.
	o := runEnv(t, work, nil, "", tool(t, "oras"), "discover", "--plain-http", "--format", "json", repo+":v1")
	var disc struct {
		Referrers []struct {
			Digest       string
			ArtifactType string
		}
	}
	if err := json.Unmarshal([]byte(o.stdout), &disc); o.code != 0 || err != nil || len(disc.Referrers) != 1 || disc.Referrers[0].ArtifactType != spec.ArtifactTypeModelManifest {
		t.Fatalf("oras discover: exit %d %v: %s %s", o.code, err, o.stdout, o.stderr)
	}
	t.Logf("oras discover %s:\n%s", repo+":v1", runEnv(t, work, nil, "", tool(t, "oras"), "discover", "--plain-http", repo+":v1").stdout)
	twinRef := repo + "@" + disc.Referrers[0].Digest
	var twin v1.Manifest
	if err := json.Unmarshal([]byte(run(t, work, tool(t, "oras"), "manifest", "fetch", "--plain-http", twinRef)), &twin); err != nil {
		t.Fatal(err)
	}
	if twin.Subject == nil || twin.Subject.Digest.String() != digest || twin.Config.MediaType != spec.MediaTypeModelConfig {
		t.Errorf("twin manifest: %+v", twin)
	}
	if len(twin.Layers) != len(img.Layers) {
		t.Fatalf("twin has %d layers, the image %d", len(twin.Layers), len(img.Layers))
	}
	for i := range img.Layers {
		if twin.Layers[i].Digest != img.Layers[i].Digest || twin.Layers[i].Size != img.Layers[i].Size {
			t.Errorf("layer %d: image %s, twin %s", i, img.Layers[i].Digest, twin.Layers[i].Digest)
		}
		if !strings.HasPrefix(string(twin.Layers[i].MediaType), "application/vnd.cncf.model.") {
			t.Errorf("twin layer %d media type %s", i, twin.Layers[i].MediaType)
		}
	}
	if p := twin.Layers[2].Annotations[spec.AnnotationFilepath]; p != "model/weights/model-00002-of-00002.safetensors" {
		t.Errorf("the last layer's filepath annotation = %q", p)
	}
	cfg := []byte(run(t, work, crane, "blob", "--insecure", repo+"@"+twin.Config.Digest.String()))
	if err := specschema.ValidatorMediaTypeModelConfig.Validate(bytes.NewReader(cfg)); err != nil {
		t.Errorf("model-spec's validator refuses the config: %v\n%s", err, cfg)
	}
	var model spec.Model
	json.Unmarshal(cfg, &model)
	if model.Descriptor.Name != "tiny-example" || model.Config.Format != "safetensors" || len(model.ModelFS.DiffIDs) != 3 {
		t.Errorf("config: %s", cfg)
	}

	// skopeo copies the image alone, as a runtime pulls it.
	sk := runEnv(t, work, nil, "", tool(t, "skopeo"), "inspect", "--tls-verify=false", "docker://"+repo+":v1")
	if sk.code != 0 || !strings.Contains(sk.stdout, digest) {
		t.Errorf("skopeo inspect: exit %d: %s %s", sk.code, sk.stdout, sk.stderr)
	}

	// An unchanged re-push sends no layer and keeps one referrer.
	again := runEnv(t, work, nil, "", bin, "build", "tiny", "--git=false", "--prefix", "model", "-t", repo+":v1", "--push",
		"--modelpack", "--model-metadata", "model.yaml", "--debug")
	if again.code != 0 || strings.TrimSpace(again.stdout) != ref {
		t.Fatalf("re-push: exit %d: %s", again.code, again.stderr)
	}
	if n := strings.Count(again.stderr, "/blobs/uploads/"); n != 0 {
		t.Errorf("the unchanged re-push started %d uploads", n)
	}
	o = runEnv(t, work, nil, "", tool(t, "oras"), "discover", "--plain-http", "--format", "json", repo+":v1")
	if err := json.Unmarshal([]byte(o.stdout), &disc); err != nil || len(disc.Referrers) != 1 {
		t.Errorf("after the re-push, oras discover: %s", o.stdout)
	}
}
