package options

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/pack"
)

// ModelPack holds the flags of build's ModelPack twin.
type ModelPack struct {
	// Mode is "" or "false" (off), "true" (a registry that refuses the
	// twin fails the push before any tag) or "optional".
	Mode         string
	Metadata     string
	Name         string
	Family       string
	Architecture string
	Format       string
	ParamSize    string
	Precision    string
	Quantization string
}

// AddFlags registers the flags.
func (m *ModelPack) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&m.Mode, "modelpack", "", "also write the image's CNCF ModelPack manifest, whose layers are the image's blobs, and attach it to the image as an OCI 1.1 referrer before the tags (implies --layers model); --modelpack=optional pushes the image even when the registry refuses it")
	fs.Lookup("modelpack").NoOptDefVal = "true"
	fs.StringVar(&m.Metadata, "model-metadata", "", "YAML or JSON file with the model config's descriptor and config (name, family, licenses, architecture, format, paramSize, precision, …), checked against the ModelPack schema; the --model-* flags override it")
	fs.StringVar(&m.Name, "model-name", "", "ModelPack descriptor.name (default the source directory's name)")
	fs.StringVar(&m.Family, "model-family", "", "ModelPack descriptor.family, such as llama3, qwen2")
	fs.StringVar(&m.Architecture, "model-architecture", "", "ModelPack config.architecture, such as transformer")
	fs.StringVar(&m.Format, "model-format", "", "ModelPack config.format, such as safetensors, gguf, onnx (default the weights' format when they share one)")
	fs.StringVar(&m.ParamSize, "model-param-size", "", "ModelPack config.paramSize: <count><B|M|K|T|Q>, such as 8b or 6.7B")
	fs.StringVar(&m.Precision, "model-precision", "", "ModelPack config.precision, such as bfloat16, float16, int8")
	fs.StringVar(&m.Quantization, "model-quantization", "", "ModelPack config.quantization, such as awq, gptq")
}

// Enabled reports whether a twin is asked for.
func (m *ModelPack) Enabled() bool { return m.Mode != "" && m.Mode != "false" }

// Spec converts the flags: nil when off. The metadata file is read and
// checked here (a *modelpack.Error names it); the flags override it.
func (m *ModelPack) Spec() (*pack.ModelPack, error) {
	switch strings.ToLower(m.Mode) {
	case "", "false":
		return nil, nil
	case "true", "required", "optional":
	default:
		return nil, fmt.Errorf("--modelpack %q: use --modelpack (true), --modelpack=optional or --modelpack=false", m.Mode)
	}
	mp := &pack.ModelPack{Optional: strings.EqualFold(m.Mode, "optional")}
	if m.Metadata != "" {
		md, err := modelpack.LoadMetadata(m.Metadata)
		if err != nil {
			return nil, err
		}
		mp.Metadata = *md
	}
	d, c := &mp.Metadata.Descriptor, &mp.Metadata.Config
	for _, o := range []struct {
		dst *string
		v   string
	}{
		{&d.Name, m.Name}, {&d.Family, m.Family}, {&c.Architecture, m.Architecture}, {&c.Format, m.Format},
		{&c.ParamSize, m.ParamSize}, {&c.Precision, m.Precision}, {&c.Quantization, m.Quantization},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return mp, nil
}

// ModelFlags maps the model config's fields to the flags that set them.
var ModelFlags = map[string]string{
	"descriptor.name":     "model-name",
	"descriptor.family":   "model-family",
	"config.architecture": "model-architecture",
	"config.format":       "model-format",
	"config.paramSize":    "model-param-size",
	"config.precision":    "model-precision",
	"config.quantization": "model-quantization",
}
