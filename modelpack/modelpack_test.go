package modelpack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specschema "github.com/modelpack/model-spec/schema"
	spec "github.com/modelpack/model-spec/specs-go/v1"
	jsonschema "github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/modelpack"
)

// validate is model-spec's own validator of model configs.
func validate(t *testing.T, config []byte) error {
	t.Helper()
	return specschema.ValidatorMediaTypeModelConfig.Validate(bytes.NewReader(config))
}

// leaf is the field and message of the validator's error, as its Error()
// reports them (the first cause, down to a leaf); false for an error from
// its check before the schema (a document that is not an object).
func leaf(err error) (field, msg string, ok bool) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "", "", false
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return ve.InstanceLocation, ve.Message, true
}

func TestSchemaIsModelSpecs(t *testing.T) {
	f, err := specschema.FileSystem().Open("config-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	theirs, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("config-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatal("modelpack/config-schema.json differs from model-spec's schema/config-schema.json: copy it again (go.mod's model-spec version) and check the interpreter")
	}
}

const okModelFS = `"modelfs": {"type": "layers", "diffIds": ["sha256:1234"]}`

// TestSchemaAgreesWithModelSpec: for each document, the interpreter and
// model-spec's validator agree on the verdict, and on the field and the
// message when there is one violation.
func TestSchemaAgreesWithModelSpec(t *testing.T) {
	compared := 0
	defer func() {
		if compared < 15 {
			t.Errorf("compared the field and message of %d documents, want 15 or more", compared)
		}
	}()
	for _, doc := range []string{
		`{"descriptor": {}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"name": "x", "createdAt": "2025-01-01T00:00:00Z", "authors": ["a"], "licenses": ["MIT"]}, "config": {"architecture": "transformer", "format": "gguf", "paramSize": "8b", "precision": "bfloat16", "quantization": "q4", "capabilities": {"inputTypes": ["text"], "outputTypes": ["text", "image"], "reasoning": true, "embedding": false, "knowledgeCutoff": "2024-05-21T10:11:12.5+02:00"}}, ` + okModelFS + `}`,
		`{"descriptor": {"name": ""}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"name": 7}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"nmae": "x"}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {"paramSize": 8}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {"precision": ["fp16"]}, ` + okModelFS + `}`,
		`{"descriptor": {"createdAt": "yesterday"}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"createdAt": "2025-13-01T00:00:00Z"}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"authors": "me"}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {"licenses": [1]}, "config": {}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {"capabilities": {"inputTypes": ["smell"]}}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {"capabilities": {"toolUsage": "yes"}}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {}, "modelfs": {"type": "layers", "diffIds": []}}`,
		`{"descriptor": {}, "config": {}, "modelfs": {"type": "rootfs", "diffIds": ["sha256:1"]}}`,
		`{"descriptor": {}, "config": {}, "modelfs": {"diffIds": ["sha256:1"]}}`,
		`{"descriptor": {}, ` + okModelFS + `}`,
		`{"descriptor": {}, "config": {}, "extra": 1, ` + okModelFS + `}`,
		`{"descriptor": [], "config": {}, ` + okModelFS + `}`,
		`[]`,
	} {
		vs, err := modelpack.Check([]byte(doc))
		if err != nil {
			t.Fatalf("Check(%s) = %v", doc, err)
		}
		theirs := validate(t, []byte(doc))
		if (len(vs) == 0) != (theirs == nil) {
			t.Errorf("%s:\n  assetpack: %v\n  model-spec: %v", doc, vs, theirs)
			continue
		}
		if theirs == nil || len(vs) != 1 {
			continue
		}
		field, msg, ok := leaf(theirs)
		if ok {
			compared++
		}
		if ok && (vs[0].Field != field || vs[0].Message != msg) {
			t.Errorf("%s:\n  assetpack:  %q %q\n  model-spec: %q %q", doc, vs[0].Field, vs[0].Message, field, msg)
		}
	}
}

// modelDir writes a small model and builds it with LayersModel.
func modelDir(t *testing.T, opts ...builder.Option) *builder.Result {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"config.json":                      `{"architectures":["LlamaForCausalLM"]}`,
		"tokenizer.json":                   `{"version":"1.0"}`,
		"README.md":                        "# tiny\n",
		"model-00001-of-00002.safetensors": strings.Repeat("a", 5000),
		"model-00002-of-00002.safetensors": strings.Repeat("b", 3000),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithLayers(builder.LayersModel)}, opts...)
	res, err := builder.Build(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func TestNew(t *testing.T) {
	res := modelDir(t, builder.WithPrefix("model"), builder.WithCompression(builder.None))
	md := modelpack.Metadata{
		Descriptor: spec.ModelDescriptor{Name: "tiny-llama", Family: "llama", Licenses: []string{"Apache-2.0"}},
		Config:     spec.ModelConfig{Architecture: "transformer", ParamSize: "1.1b", Precision: "bfloat16"},
	}
	m, err := modelpack.New(res.Layers, md, res.Created)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := validate(t, m.Config); err != nil {
		t.Fatalf("model-spec's validator refuses the config: %v\n%s", err, m.Config)
	}
	var cfg spec.Model
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Descriptor.Name != "tiny-llama" || cfg.Config.Format != "safetensors" || cfg.Config.ParamSize != "1.1b" ||
		!cfg.Descriptor.CreatedAt.Equal(time.Unix(1700000000, 0)) || cfg.ModelFS.Type != "layers" {
		t.Errorf("config = %s", m.Config)
	}
	if len(cfg.ModelFS.DiffIDs) != len(res.Layers) || len(m.Layers) != len(res.Layers) {
		t.Fatalf("%d diffIDs and %d layers for an image of %d layers", len(cfg.ModelFS.DiffIDs), len(m.Layers), len(res.Layers))
	}
	wantTypes := []string{spec.MediaTypeModelWeightConfig, spec.MediaTypeModelDoc, spec.MediaTypeModelWeight, spec.MediaTypeModelWeight}
	for i, l := range res.Layers {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		size, _ := l.Size()
		if m.Layers[i].Digest != d || m.Layers[i].Size != size || string(cfg.ModelFS.DiffIDs[i]) != diff.String() {
			t.Errorf("layer %d = %+v (diffID %s), want the image's blob %s (%d bytes, diffID %s)", i, m.Layers[i], cfg.ModelFS.DiffIDs[i], d, size, diff)
		}
		if string(m.Layers[i].MediaType) != wantTypes[i] {
			t.Errorf("layer %d media type = %s, want %s", i, m.Layers[i].MediaType, wantTypes[i])
		}
	}
	// A layer of one file names it.
	w := m.Layers[3].Annotations
	if w[spec.AnnotationFilepath] != "model/model-00002-of-00002.safetensors" {
		t.Errorf("annotations = %v", w)
	}
	var fm spec.FileMetadata
	if err := json.Unmarshal([]byte(w[spec.AnnotationFileMetadata]), &fm); err != nil {
		t.Fatal(err)
	}
	want := spec.FileMetadata{Name: "model-00002-of-00002.safetensors", Mode: 0o644, Size: 3000, ModTime: time.Unix(1700000000, 0).UTC(), Typeflag: '0'}
	if !reflect.DeepEqual(fm, want) {
		t.Errorf("file metadata = %+v, want %+v", fm, want)
	}
	if m.Layers[0].Annotations != nil {
		t.Errorf("the config layer holds two files, yet names one: %v", m.Layers[0].Annotations)
	}
	// The same build gives the same bytes.
	again, err := modelpack.New(res.Layers, md, res.Created)
	if err != nil || !bytes.Equal(again.Config, m.Config) || !reflect.DeepEqual(again.Layers, m.Layers) {
		t.Errorf("New() is not deterministic: %v", err)
	}
}

func TestMediaTypes(t *testing.T) {
	for _, tc := range []struct {
		r    builder.Role
		c    builder.Compression
		want string
	}{
		{builder.RoleWeights, builder.None, spec.MediaTypeModelWeight},
		{builder.RoleWeights, builder.Gzip, spec.MediaTypeModelWeightGzip},
		{builder.RoleWeights, builder.Zstd, spec.MediaTypeModelWeightZstd},
		{builder.RoleConfig, builder.None, spec.MediaTypeModelWeightConfig},
		{builder.RoleConfig, builder.Gzip, spec.MediaTypeModelWeightConfigGzip},
		{builder.RoleConfig, builder.Zstd, spec.MediaTypeModelWeightConfigZstd},
		{builder.RoleDocs, builder.Gzip, spec.MediaTypeModelDocGzip},
		{builder.RoleDocs, builder.Zstd, spec.MediaTypeModelDocZstd},
		{builder.RoleCode, builder.None, spec.MediaTypeModelCode},
		{builder.RoleCode, builder.Gzip, spec.MediaTypeModelCodeGzip},
	} {
		if got := modelpack.MediaType(tc.r, tc.c); string(got) != tc.want {
			t.Errorf("MediaType(%s, %s) = %s, want %s", tc.r, tc.c, got, tc.want)
		}
	}
}

func TestNewNotAModelPlan(t *testing.T) {
	res := modelDir(t, builder.WithLayers(builder.LayersAuto))
	_, err := modelpack.New(res.Layers, modelpack.Metadata{}, res.Created)
	if !errors.Is(err, modelpack.ErrInvalid) || !strings.Contains(err.Error(), `layers "model"`) {
		t.Fatalf("New() = %v, want ErrInvalid naming the layer mode", err)
	}
}

func TestNewBadParamSize(t *testing.T) {
	res := modelDir(t)
	_, err := modelpack.New(res.Layers, modelpack.Metadata{Config: spec.ModelConfig{ParamSize: "8 billion"}}, res.Created)
	var e *modelpack.Error
	if !errors.As(err, &e) || e.Field != "config.paramSize" || e.File != "" {
		t.Fatalf("New() = %v, want an *Error on config.paramSize", err)
	}
}

func TestParseMetadata(t *testing.T) {
	m, err := modelpack.ParseMetadata([]byte("descriptor:\n  name: tiny\n  licenses: [MIT]\nconfig:\n  format: gguf\n  paramSize: 1.1B\n"), "model.yaml")
	if err != nil {
		t.Fatalf("ParseMetadata() = %v", err)
	}
	if m.Descriptor.Name != "tiny" || m.Config.Format != "gguf" || m.Descriptor.Licenses[0] != "MIT" {
		t.Errorf("ParseMetadata() = %+v", m)
	}
	if _, err := modelpack.ParseMetadata([]byte(`{"config": {"precision": "float16"}}`), "model.json"); err != nil {
		t.Errorf("ParseMetadata(JSON) = %v", err)
	}
	for _, tc := range []struct {
		doc, want string
	}{
		{"descriptor:\n  name: \"\"\n", `model metadata model.yaml:2: descriptor.name: length must be >= 1, but got 0 (ModelPack config schema, model-spec v0.0.7)`},
		{"descriptor:\n  name: x\nconfig:\n  paramsize: 8b\n", `model metadata model.yaml:3: config: additionalProperties 'paramsize' not allowed (ModelPack config schema, model-spec v0.0.7)`},
		{"config:\n  capabilities:\n    inputTypes: [text, smell]\n", `model metadata model.yaml:3: config.capabilities.inputTypes.1: value must be one of "text", "image", "audio", "video", "embedding", "other" (ModelPack config schema, model-spec v0.0.7)`},
		{"descriptor:\n  createdAt: yesterday\n", `model metadata model.yaml:2: descriptor.createdAt: 'yesterday' is not valid 'date-time' (ModelPack config schema, model-spec v0.0.7)`},
		{"config:\n  paramSize: 8\n", `model metadata model.yaml:2: config.paramSize: expected string, but got number (ModelPack config schema, model-spec v0.0.7)`},
		{"config:\n  paramSize: eight\n", `model metadata model.yaml:2: config.paramSize: "eight" is not <count><scale-prefix> with a scale of Q, T, B, M or K, such as 8b, 6.7B or 100m (ModelPack config spec, model-spec v0.0.7)`},
		{"modelfs: {}\n", `model metadata model.yaml:1: modelfs: is written from the image's layers: leave it out (ModelPack config spec, model-spec v0.0.7)`},
		{"name: tiny\n", `model metadata model.yaml:1: (top level): additionalProperties 'name' not allowed (ModelPack config schema, model-spec v0.0.7)`},
	} {
		_, err := modelpack.ParseMetadata([]byte(tc.doc), "model.yaml")
		var e *modelpack.Error
		if !errors.As(err, &e) || !errors.Is(err, modelpack.ErrInvalid) || err.Error() != tc.want {
			t.Errorf("ParseMetadata(%q) = %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}
