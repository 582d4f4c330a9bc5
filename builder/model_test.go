package builder_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/builder"
)

// modelTree is a small Hugging Face style model directory: shards, their
// index, config and tokenizer files, docs, code, an empty directory, and
// a name that sorts between a directory and its children.
var modelTree = []treeFile{
	{path: "config.json", body: `{"architectures":["LlamaForCausalLM"]}`},
	{path: "generation_config.json", body: `{"do_sample":true}`},
	{path: "tokenizer.json", body: `{"version":"1.0"}`},
	{path: "tokenizer.model", body: "sentencepiece"},
	{path: "merges.txt", body: "a b\n"},
	{path: "README.md", body: "# tiny\n"},
	{path: "LICENSE", body: "Apache-2.0\n"},
	{path: "handler.py", body: "print('hi')\n"},
	{path: "model.safetensors.index.json", body: `{"weight_map":{}}`},
	{path: "model-00001-of-00002.safetensors", body: strings.Repeat("a", 5000)},
	{path: "model-00002-of-00002.safetensors", body: strings.Repeat("b", 3000)},
	{path: "gguf/tiny-Q4_K_M.gguf", body: "GGUF" + strings.Repeat("c", 100)},
	{path: "gguf-notes.txt", body: "between gguf and gguf/\n"},
	{path: "cache", dir: true},
}

func TestModelRole(t *testing.T) {
	for name, want := range map[string]builder.Role{
		"model-00001-of-00004.safetensors":        builder.RoleWeights,
		"weights/pytorch_model.bin":               builder.RoleWeights,
		"Model.GGUF":                              builder.RoleWeights,
		"model.onnx":                              builder.RoleWeights,
		"consolidated.00.pth":                     builder.RoleWeights,
		"variables/variables.data-00000-of-00001": builder.RoleWeights,
		"config.json":                             builder.RoleConfig,
		"tokenizer.json":                          builder.RoleConfig,
		"tokenizer.model":                         builder.RoleConfig,
		"vocab.txt":                               builder.RoleConfig,
		"model.safetensors.index.json":            builder.RoleConfig,
		"variables/variables.index":               builder.RoleConfig,
		"README.md":                               builder.RoleDocs,
		"LICENSE":                                 builder.RoleDocs,
		"assets/diagram.png":                      builder.RoleDocs,
		"modeling_llama.py":                       builder.RoleCode,
		"requirements.txt":                        builder.RoleCode,
	} {
		if got := builder.ModelRole(name); got != want {
			t.Errorf("ModelRole(%q) = %q, want %q", name, got, want)
		}
	}
}

// planOf lists each layer's role and files.
func planOf(res *builder.Result) []string {
	var out []string
	for _, l := range res.Layers {
		var files []string
		for _, f := range l.Files() {
			files = append(files, f.Path)
		}
		out = append(out, fmt.Sprintf("%s: %s", l.Role(), strings.Join(files, " ")))
	}
	return out
}

func TestLayersModel(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, modelTree)
	res := build(t, dir, builder.WithLayers(builder.LayersModel), builder.WithPrefix("models/tiny"))
	want := []string{
		"config: models/tiny/config.json models/tiny/generation_config.json models/tiny/gguf-notes.txt models/tiny/merges.txt models/tiny/model.safetensors.index.json models/tiny/tokenizer.json models/tiny/tokenizer.model",
		"docs: models/tiny/LICENSE models/tiny/README.md",
		"code: models/tiny/handler.py",
		"weights: models/tiny/gguf/tiny-Q4_K_M.gguf",
		"weights: models/tiny/model-00001-of-00002.safetensors",
		"weights: models/tiny/model-00002-of-00002.safetensors",
	}
	if got := planOf(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every layer unpacks on its own: its directories come first. The
	// empty directory is in the config layer, and only there.
	all := map[string]string{}
	for i, l := range res.Layers {
		names, sums := layerFiles(t, l)
		for _, n := range names {
			if sums[n] != "dir" {
				if _, dup := all[n]; dup {
					t.Errorf("%s is in two layers", n)
				}
			}
			all[n] = sums[n]
			if n == "models/tiny/cache" && i != 0 {
				t.Errorf("the empty directory is in layer %d", i)
			}
		}
	}
	if all["models/tiny/cache"] != "dir" {
		t.Errorf("the empty directory is missing: %v", all)
	}
	if res.Layers[3].Files()[0].Size != 104 || res.Layers[3].Files()[0].Mode != 0o644 {
		t.Errorf("Files()[0] = %+v", res.Layers[3].Files()[0])
	}
}

// TestLayersModelOneShard: a fine-tune that changes one shard changes one
// layer; creation order changes nothing.
func TestLayersModelOneShard(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, modelTree)
	rev := append([]treeFile(nil), modelTree...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	writeTree(t, b, rev)
	ra := build(t, a, builder.WithLayers(builder.LayersModel))
	rb := build(t, b, builder.WithLayers(builder.LayersModel))
	if ra.Digest != rb.Digest {
		t.Fatalf("creation order changed the digest: %s vs %s", ra.Digest, rb.Digest)
	}
	if err := os.WriteFile(filepath.Join(b, "model-00002-of-00002.safetensors"), []byte(strings.Repeat("B", 3000)), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := build(t, b, builder.WithLayers(builder.LayersModel))
	da, dc := digests(ra), digests(rc)
	changed := 0
	for i := range da {
		if da[i] != dc[i] {
			changed++
			if rc.Layers[i].Files()[0].Path != "model-00002-of-00002.safetensors" {
				t.Errorf("layer %d (%s) changed", i, rc.Layers[i].Files()[0].Path)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d layers changed, want 1", changed)
	}
}

func TestLayersModelTooMany(t *testing.T) {
	dir := t.TempDir()
	var files []treeFile
	for i := range builder.MaxModelLayers + 1 {
		files = append(files, treeFile{path: fmt.Sprintf("shards/%03d.bin", i), body: "x"})
	}
	writeTree(t, dir, files)
	_, err := builder.Build(t.Context(), dir, builder.WithGit(false), builder.WithLayers(builder.LayersModel))
	var oe *builder.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, builder.ErrBadInput) || !strings.Contains(err.Error(), "128 layers") {
		t.Fatalf("Build() = %v, want an OptionError naming 128 layers", err)
	}
}

func TestParseLayerModeModel(t *testing.T) {
	if m, err := builder.ParseLayerMode("Model"); err != nil || m != builder.LayersModel {
		t.Fatalf("ParseLayerMode(Model) = %q, %v", m, err)
	}
}

// TestLayersModelLimits: the model plan is not reshaped to fit a
// registry's limits (one weight file per layer is its point): a weight
// file over the layer limit fails naming it before anything is encoded,
// more layers than the limit fail with ErrTooLarge naming the count, and a
// plan within the limits is the plan without them.
func TestLayersModelLimits(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, modelTree)
	want, err := builder.Build(t.Context(), dir, builder.WithGit(false), builder.WithLayers(builder.LayersModel))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	wantDigest, _ := want.Image.Digest()
	got, err := builder.Build(t.Context(), dir, builder.WithGit(false), builder.WithLayers(builder.LayersModel),
		builder.WithLayerLimits(builder.LayerLimits{MaxLayers: len(want.Layers), MaxLayerSize: 1 << 20}))
	if err != nil {
		t.Fatalf("Build() within the limits = %v", err)
	}
	defer got.Close()
	if d, _ := got.Image.Digest(); d != wantDigest {
		t.Errorf("digest within the limits %s, want %s (the plan without limits)", d, wantDigest)
	}

	_, err = builder.Build(t.Context(), dir, builder.WithGit(false), builder.WithLayers(builder.LayersModel),
		builder.WithLayerLimits(builder.LayerLimits{MaxLayers: len(want.Layers) - 1}))
	if !errors.Is(err, builder.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("needs %d layers", len(want.Layers))) {
		t.Errorf("Build() over MaxLayers = %v, want ErrTooLarge naming %d layers", err, len(want.Layers))
	}

	_, err = builder.Build(t.Context(), dir, builder.WithGit(false), builder.WithLayers(builder.LayersModel), builder.WithCompression(builder.None),
		builder.WithLayerLimits(builder.LayerLimits{MaxLayerSize: 4096, Reason: "the test registry's limit"}))
	var pe *builder.PathError
	if !errors.As(err, &pe) || !errors.Is(err, builder.ErrTooLarge) || !strings.Contains(err.Error(), "model-00001-of-00002.safetensors") {
		t.Errorf("Build() with a shard over MaxLayerSize = %v, want a PathError naming the shard", err)
	}
}
