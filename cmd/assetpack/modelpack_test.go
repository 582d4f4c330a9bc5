package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/internal/testregistry"
)

// copyModel copies examples/model (its files, not its docs) to dst.
func copyModel(t *testing.T, dst string) {
	t.Helper()
	src, _ := filepath.Abs("../../examples/model")
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
}

// refuseSubject answers a manifest with a subject as some registries do.
func refuseSubject(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(`"subject"`)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	})
}

func TestBuildModelPack(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyModel(t, filepath.Join(work, "tiny"))
	os.WriteFile(filepath.Join(work, "model.yaml"), []byte("descriptor:\n  family: llama\n  licenses: [Apache-2.0]\nconfig:\n  architecture: transformer\n  precision: bfloat16\n"), 0o644)
	r := assetpack(t, work, nil, "build", "tiny", "--git=false", "-t", host+"/ml/tiny:v1", "--push", "--modelpack",
		"--model-metadata", "model.yaml", "--model-param-size", "1m", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var j struct {
		Reference string `json:"reference"`
		Layers    []struct {
			Digest string `json:"digest"`
			Role   string `json:"role"`
		} `json:"layers"`
		ModelPack struct {
			Digest   string `json:"digest"`
			Attached []struct {
				Ref, Mechanism string
			} `json:"attached"`
			Config struct {
				Descriptor struct{ Name, Family string }
				Config     struct{ Format, ParamSize, Precision string }
			} `json:"config"`
		} `json:"modelpack"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	roles := []string{}
	for _, l := range j.Layers {
		roles = append(roles, l.Role)
	}
	if strings.Join(roles, ",") != "config,weights,weights" {
		t.Errorf("roles = %v: --modelpack implies --layers model", roles)
	}
	mp := j.ModelPack
	if len(mp.Attached) != 1 || mp.Attached[0].Mechanism != "tag schema" || !strings.HasSuffix(mp.Attached[0].Ref, mp.Digest) {
		t.Errorf("modelpack = %+v", mp)
	}
	if c := mp.Config; c.Descriptor.Name != "tiny" || c.Descriptor.Family != "llama" || c.Config.Format != "safetensors" || c.Config.ParamSize != "1m" || c.Config.Precision != "bfloat16" {
		t.Errorf("config = %+v", c)
	}
	if !strings.Contains(r.stderr, "attached the ModelPack manifest") {
		t.Errorf("stderr = %q", r.stderr)
	}
	// From assetpack.yaml, without flags.
	os.WriteFile(filepath.Join(work, "assetpack.yaml"), []byte("source: tiny\nrepository: "+host+"/ml/cfg\ntags: [v1]\npush: true\nmodelpack:\n  metadata: model.yaml\n  paramSize: 2m\n"), 0o644)
	r = assetpack(t, work, nil, "build", "--git=false", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j.ModelPack.Config.Config.ParamSize = ""
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || j.ModelPack.Config.Config.ParamSize != "2m" || j.ModelPack.Config.Descriptor.Family != "llama" {
		t.Errorf("assetpack.yaml's modelpack: %v %+v", err, j.ModelPack)
	}
}

func TestBuildModelPackRefused(t *testing.T) {
	host := testregistry.New(t, testregistry.WithWrap(refuseSubject))
	work := t.TempDir()
	copyModel(t, filepath.Join(work, "tiny"))
	tag := host + "/ml/tiny:v1"
	r := assetpack(t, work, nil, "build", "tiny", "--git=false", "-t", tag, "--push", "--modelpack")
	if r.code != 1 || !strings.Contains(r.stderr, "no tag was written") || !strings.Contains(r.stderr, "--modelpack=optional") ||
		!strings.Contains(r.stderr, "MANIFEST_INVALID") || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 saying that no tag was written and naming --modelpack=optional", r.code, r.stdout, r.stderr)
	}
	ref, _ := name.ParseReference(tag)
	if _, err := remote.Head(ref); err == nil {
		t.Error("the tag exists")
	}
	r = assetpack(t, work, nil, "build", "tiny", "--git=false", "-t", tag, "--push", "--modelpack=optional")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: the image was pushed without its ModelPack manifest") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := remote.Head(ref); err != nil {
		t.Errorf("the tag is missing after --modelpack=optional: %v", err)
	}
}

func TestBuildModelPackBadInput(t *testing.T) {
	work := t.TempDir()
	copyModel(t, filepath.Join(work, "tiny"))
	os.WriteFile(filepath.Join(work, "bad.yaml"), []byte("descriptor:\n  name: \"\"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model-metadata", "bad.yaml"}, `model metadata bad.yaml:2: descriptor.name: length must be >= 1, but got 0 (ModelPack config schema, model-spec v0.0.7)`},
		{[]string{"--model-param-size", "lots"}, `--model-param-size (config.paramSize): "lots" is not <count><scale-prefix>`},
		{[]string{"--layers", "auto"}, `--modelpack names one weight file per layer: use --layers model`},
	} {
		r := assetpack(t, work, nil, append([]string{"build", "tiny", "--git=false", "--modelpack", "-o", "oci:out"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "out")); err == nil {
		t.Error("a bad request wrote an output")
	}
}
