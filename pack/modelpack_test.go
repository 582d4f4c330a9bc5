package pack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	specschema "github.com/modelpack/model-spec/schema"
	spec "github.com/modelpack/model-spec/specs-go/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// model writes a small model directory: two shards, config and tokenizer,
// a README.
func model(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-llama")
	os.MkdirAll(dir, 0o755)
	for name, body := range map[string]string{
		"config.json":                      `{"architectures":["LlamaForCausalLM"]}`,
		"tokenizer.json":                   `{"version":"1.0"}`,
		"README.md":                        "# tiny\n",
		"model-00001-of-00002.safetensors": strings.Repeat("a", 50000),
		"model-00002-of-00002.safetensors": strings.Repeat("b", 30000),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var tinyMetadata = modelpack.Metadata{
	Descriptor: spec.ModelDescriptor{Family: "llama"},
	Config:     spec.ModelConfig{Architecture: "transformer", ParamSize: "1.1b", Precision: "bfloat16"},
}

// uploads counts blob uploads by digest (the digest of the PUT that
// completes them) and refuses manifests with a subject when refuse is set.
type uploads struct {
	mu     sync.Mutex
	n      map[string]int
	refuse bool
}

func (u *uploads) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			u.mu.Lock()
			if u.n == nil {
				u.n = map[string]int{}
			}
			u.n[r.URL.Query().Get("digest")]++
			u.mu.Unlock()
		}
		if u.refuse && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(`"subject"`)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unknown field subject"}]}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func TestModelPackPush(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []testregistry.Option
		want publish.Mechanism
	}{
		{"tag schema", nil, publish.TagSchema},
		{"referrers API", []testregistry.Option{testregistry.WithReferrers()}, publish.ReferrersAPI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			u := &uploads{}
			host := testregistry.New(t, append(tc.opts, testregistry.WithWrap(u.wrap))...)
			reg, _ := publish.NewRegistry()
			res, err := pack.Run(ctx, pack.Spec{Source: model(t), Image: image(), Registry: reg,
				Tags: []string{host + "/ml/tiny:v1"}, ModelPack: &pack.ModelPack{Metadata: tinyMetadata}})
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
			defer res.Close()
			mp := res.ModelPack
			if mp == nil || len(mp.Attached) != 1 || mp.Attached[0].Mechanism != tc.want || mp.Refused != nil {
				t.Fatalf("ModelPack = %+v, want one attachment through the %s", mp, tc.want)
			}
			if mp.Attached[0].Ref.DigestStr() != mp.Digest.String() {
				t.Errorf("attached %s, the result says %s", mp.Attached[0].Ref, mp.Digest)
			}
			// One tag serves both: the image, and its referrer.
			subject := res.Pushed.Refs[0]
			list, err := reg.Referrers(ctx, subject, modelpack.ArtifactType)
			if err != nil || len(list.Referrers) != 1 {
				t.Fatalf("Referrers() = %+v, %v; want the twin", list, err)
			}
			f, err := reg.FetchReferrer(ctx, subject, list.Referrers[0])
			if err != nil {
				t.Fatalf("FetchReferrer() = %v", err)
			}
			if err := specschema.ValidatorMediaTypeModelConfig.Validate(bytes.NewReader(f.Config)); err != nil {
				t.Errorf("model-spec's validator refuses the config: %v\n%s", err, f.Config)
			}
			var cfg spec.Model
			json.Unmarshal(f.Config, &cfg)
			if cfg.Descriptor.Name != "tiny-llama" || cfg.Config.Format != "safetensors" || cfg.Descriptor.Family != "llama" {
				t.Errorf("config = %s", f.Config)
			}
			if f.Manifest.Config.MediaType != modelpack.ConfigType || f.Manifest.ArtifactType != modelpack.ArtifactType {
				t.Errorf("manifest = %s", f.Raw)
			}
			img, err := remote.Image(subject)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := img.Manifest()
			if len(im.Layers) != len(f.Manifest.Layers) || len(im.Layers) != 4 {
				t.Fatalf("image has %d layers, twin %d, want 4 each", len(im.Layers), len(f.Manifest.Layers))
			}
			for i := range im.Layers {
				if im.Layers[i].Digest != f.Manifest.Layers[i].Digest {
					t.Errorf("layer %d: image %s, twin %s", i, im.Layers[i].Digest, f.Manifest.Layers[i].Digest)
				}
			}
			// Nothing uploaded twice.
			for d, n := range u.n {
				if n != 1 {
					t.Errorf("blob %s uploaded %d times", d, n)
				}
			}
			if len(u.n) != 4+1+1 { // layers, image config, model config
				t.Errorf("%d blobs uploaded, want 6: %v", len(u.n), u.n)
			}
		})
	}
}

func TestModelPackRefused(t *testing.T) {
	ctx := context.Background()
	u := &uploads{refuse: true}
	host := testregistry.New(t, testregistry.WithWrap(u.wrap))
	reg, _ := publish.NewRegistry()
	tag := host + "/ml/tiny:v1"
	_, err := pack.Run(ctx, pack.Spec{Source: model(t), Image: image(), Registry: reg, Tags: []string{tag},
		ModelPack: &pack.ModelPack{Metadata: tinyMetadata}})
	if !errors.Is(err, pack.ErrModelPack) || !strings.Contains(err.Error(), "no tag was written") || !strings.Contains(err.Error(), "MANIFEST_INVALID") {
		t.Fatalf("Run() = %v, want ErrModelPack with the registry's answer and that no tag was written", err)
	}
	ref, _ := name.ParseReference(tag)
	if _, err := remote.Head(ref); err == nil {
		t.Error("the tag was written although the twin was refused")
	}

	res, err := pack.Run(ctx, pack.Spec{Source: model(t), Image: image(), Registry: reg, Tags: []string{tag},
		ModelPack: &pack.ModelPack{Metadata: tinyMetadata, Optional: true}})
	if err != nil {
		t.Fatalf("Run(Optional) = %v", err)
	}
	defer res.Close()
	if res.ModelPack.Refused == nil || len(res.ModelPack.Attached) != 0 {
		t.Errorf("ModelPack = %+v, want Refused", res.ModelPack)
	}
	if d, err := remote.Head(ref); err != nil || d.Digest != res.Digest {
		t.Errorf("tag = %v, %v; want the image", d, err)
	}
}

func TestModelPackLayout(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	res, err := pack.Run(context.Background(), pack.Spec{Source: model(t), Image: image(),
		Output: publish.Target{Kind: publish.Layout, Path: out}, ModelPack: &pack.ModelPack{Metadata: tinyMetadata}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	defer res.Close()
	var idx v1.IndexManifest
	raw, _ := os.ReadFile(filepath.Join(out, "index.json"))
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index.json = %s (%v), want the image and its twin", raw, err)
	}
	if idx.Manifests[1].ArtifactType != modelpack.ArtifactType || idx.Manifests[1].Digest != res.ModelPack.Digest {
		t.Errorf("index.json lists %+v, want the twin %s", idx.Manifests[1], res.ModelPack.Digest)
	}
	for _, m := range idx.Manifests {
		if _, err := os.Stat(filepath.Join(out, "blobs", "sha256", m.Digest.Hex)); err != nil {
			t.Error(err)
		}
	}
	// The layout still loads as the image.
	art, cleanup, err := publish.Load(publish.Source{Target: publish.Target{Kind: publish.Layout, Path: out}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if d, _ := art.Digest(); d != res.Digest {
		t.Errorf("Load() = %s, want the image %s", d, res.Digest)
	}
}

func TestModelPackSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  pack.Spec
		field string
	}{
		{"reference", pack.Spec{Reference: "example.com/a@sha256:" + strings.Repeat("0", 64), ModelPack: &pack.ModelPack{}}, "ModelPack"},
		{"layers", pack.Spec{Source: ".", Image: pack.Image{Layers: builder.LayersAuto}, ModelPack: &pack.ModelPack{}}, "Image.Layers"},
	} {
		_, err := pack.Run(context.Background(), tc.spec)
		var se *pack.SpecError
		if !errors.As(err, &se) || se.Field != tc.field {
			t.Errorf("%s: Run() = %v, want a SpecError on %s", tc.name, err, tc.field)
		}
	}
	_, err := pack.Run(context.Background(), pack.Spec{Source: ".", ModelPack: &pack.ModelPack{Metadata: modelpack.Metadata{Config: spec.ModelConfig{ParamSize: "huge"}}}})
	var me *modelpack.Error
	if !errors.As(err, &me) || me.Field != "config.paramSize" {
		t.Errorf("Run() with a bad paramSize = %v, want a modelpack.Error", err)
	}
}
