// Package modelpack describes an image built with builder.LayersModel as a
// CNCF ModelPack artifact (github.com/modelpack/model-spec): a manifest of
// artifactType application/vnd.cncf.model.manifest.v1+json whose config is
// a model config (application/vnd.cncf.model.config.v1+json: name, family,
// architecture, format, parameter size, precision, and the layers'
// diffIDs) and whose layers are the image's own layer blobs, each named
// with the ModelPack media type of what it holds (weights, weight config,
// docs, code; tar, tar+gzip or tar+zstd as the blob is) and, for a layer of
// one file, that file's path and metadata.
//
// Attached to the image as an OCI 1.1 referrer (package pack does that
// through publish.Registry.Attach), it lets one tag serve both worlds: the
// kubelet mounts the image, model tools read the ModelPack manifest, and no
// blob is stored twice. The package is pure: it reads no file but a
// metadata file, and talks to no registry.
package modelpack

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	spec "github.com/modelpack/model-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/jsondoc"
	"github.com/assetpack/assetpack/internal/lazyre"
)

// Media types of the ModelPack manifest, from model-spec.
const (
	ArtifactType = spec.ArtifactTypeModelManifest // application/vnd.cncf.model.manifest.v1+json
	ConfigType   = spec.MediaTypeModelConfig      // application/vnd.cncf.model.config.v1+json
)

// ErrInvalid marks metadata or a model config that the ModelPack schema (or
// its spec) refuses, and layers that cannot be described (see New).
var ErrInvalid = errors.New("invalid ModelPack model")

// Error is metadata that breaks the ModelPack config schema: where, which
// field, and the validator's message. It matches ErrInvalid.
type Error struct {
	// File is the metadata file ("" for values given otherwise).
	File string
	// Line is the line of Field in File (0 when unknown).
	Line int
	// Field is the key path in the model config, such as
	// "descriptor.name" or "config.paramSize" ("" for the whole document).
	Field string
	// Message is the validator's message ("length must be >= 1, but got
	// 0"), or the spec's rule.
	Message string

	rule bool // a rule of the spec's text, not of its schema
}

func (e *Error) Error() string {
	where := "model config"
	switch {
	case e.File != "" && e.Line > 0:
		where = fmt.Sprintf("model metadata %s:%d", e.File, e.Line)
	case e.File != "":
		where = fmt.Sprintf("model metadata %s", e.File)
	}
	field := e.Field
	if field == "" {
		field = "(top level)"
	}
	source := "ModelPack config schema"
	if e.rule {
		source = "ModelPack config spec"
	}
	return fmt.Sprintf("%s: %s: %s (%s, model-spec %s)", where, field, e.Message, source, SpecVersion)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Metadata is what the user says about a model: the descriptor (name,
// family, version, authors, licenses, …) and the config (architecture,
// format, paramSize, precision, quantization, capabilities) of the
// ModelPack config. New adds the creation time and the layers.
type Metadata struct {
	Descriptor spec.ModelDescriptor `json:"descriptor"`
	Config     spec.ModelConfig     `json:"config"`
}

// LoadMetadata reads a metadata file: YAML or JSON in the shape of a
// ModelPack config without modelfs, which New fills in:
//
//	descriptor: {name: tiny-llama, family: llama, licenses: [Apache-2.0]}
//	config: {architecture: transformer, format: safetensors, paramSize: 1.1b, precision: bfloat16}
//
// The document is checked against the ModelPack config schema; an *Error
// names the file, the line, the field and the validator's message.
func LoadMetadata(file string) (*Metadata, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading model metadata %q: %w", file, err)
	}
	return ParseMetadata(data, file)
}

// zeroDiffID stands in for the layers when a metadata file is checked.
const zeroDiffID = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// ParseMetadata is LoadMetadata of data, named name in errors.
func ParseMetadata(data []byte, name string) (*Metadata, error) {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: name, Message: "not YAML or JSON: " + err.Error()}
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &Error{File: name, Message: "not YAML or JSON: " + err.Error()}
	}
	var doc map[string]any
	if string(bytes.TrimSpace(j)) != "null" {
		if err := json.Unmarshal(j, &doc); err != nil {
			return nil, &Error{File: name, Message: "expected an object with descriptor and config"}
		}
	}
	if doc == nil {
		doc = map[string]any{}
	}
	if _, ok := doc["modelfs"]; ok {
		return nil, &Error{File: name, Line: jsondoc.LineOf(&root, []string{"modelfs"}), Field: "modelfs", rule: true,
			Message: "is written from the image's layers: leave it out"}
	}
	// What New adds, so that only the file's own keys can fail.
	doc["modelfs"] = map[string]any{"type": "layers", "diffIds": []any{zeroDiffID}}
	for _, k := range []string{"descriptor", "config"} {
		if _, ok := doc[k]; !ok {
			doc[k] = map[string]any{}
		}
	}
	full, _ := json.Marshal(doc)
	vs, err := Check(full)
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		v := vs[0]
		parts := pointerParts(v.Field)
		return nil, &Error{File: name, Line: jsondoc.LineOf(&root, parts), Field: strings.Join(parts, "."), Message: v.Message}
	}
	var m Metadata
	if err := json.Unmarshal(full, &m); err != nil {
		return nil, &Error{File: name, Message: err.Error()}
	}
	if err := checkSpec(&m); err != nil {
		err.File = name
		err.Line = jsondoc.LineOf(&root, strings.Split(err.Field, "."))
		return nil, err
	}
	return &m, nil
}

// paramSize is the spec's <count><scale-prefix>: "8b", "6.7B", "100m".
var paramSize = lazyre.New(`^[0-9]+(\.[0-9])?[QqTtBbMmKk]$`)

// checkSpec applies the rules the spec states in words but the schema does
// not check.
func checkSpec(m *Metadata) *Error {
	if p := m.Config.ParamSize; p != "" && !paramSize().MatchString(p) {
		return &Error{Field: "config.paramSize", rule: true, Message: fmt.Sprintf("%q is not <count><scale-prefix> with a scale of Q, T, B, M or K, such as 8b, 6.7B or 100m", p)}
	}
	return nil
}

func pointerParts(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// Check validates m before anything is built, with stand-ins for what New
// adds: the schema, and the spec's rules. An *Error names the field.
func (m Metadata) Check() error {
	if err := checkSpec(&m); err != nil {
		return err
	}
	raw, err := json.Marshal(spec.Model{Descriptor: m.Descriptor, Config: m.Config,
		ModelFS: spec.ModelFS{Type: "layers", DiffIDs: []digest.Digest{zeroDiffID}}})
	if err != nil {
		return err
	}
	return Validate(raw)
}

// Manifest is an image's ModelPack twin: what an OCI 1.1 referrer of the
// image needs besides its subject.
type Manifest struct {
	// Config is the model config (ConfigType).
	Config []byte
	// Layers are the image's layer blobs, in the image's order, each with
	// its ModelPack media type and, for a layer of one file, the file's
	// path (org.cncf.model.filepath) and metadata
	// (org.cncf.model.file.metadata+json).
	Layers []v1.Descriptor
	// Annotations of the manifest: the image's creation time.
	Annotations map[string]string
}

// New describes the layers of an image built with builder.LayersModel (in
// the image's order) as a ModelPack manifest, with md filled in: createdAt
// is created (the image's timestamp, so that the same build gives the same
// bytes), config.format is the weights' format when md does not say and
// every weight file is safetensors, gguf or onnx. The config is checked
// against the ModelPack schema (an *Error names the field).
func New(layers []*builder.Layer, md Metadata, created time.Time) (*Manifest, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("%w: an image without layers", ErrInvalid)
	}
	if md.Config.Format == "" {
		md.Config.Format = weightFormat(layers)
	}
	c := created.UTC()
	md.Descriptor.CreatedAt = &c
	model := spec.Model{
		Descriptor: md.Descriptor,
		Config:     md.Config,
		ModelFS:    spec.ModelFS{Type: "layers"},
	}
	m := &Manifest{Annotations: map[string]string{builder.AnnotationCreated: c.Format(time.RFC3339)}}
	for i, l := range layers {
		if l.Role() == "" {
			return nil, fmt.Errorf("%w: layer %d was not planned for a model: build with layers %q", ErrInvalid, i+1, builder.LayersModel)
		}
		diff, _ := l.DiffID()
		model.ModelFS.DiffIDs = append(model.ModelFS.DiffIDs, digest.Digest(diff.String()))
		d, _ := l.Digest()
		size, _ := l.Size()
		desc := v1.Descriptor{MediaType: MediaType(l.Role(), l.Compression()), Digest: d, Size: size}
		if files := l.Files(); len(files) == 1 && files[0].Mode.IsRegular() {
			f := files[0]
			meta, err := json.Marshal(spec.FileMetadata{Name: path.Base(f.Path), Mode: uint32(f.Mode.Perm()),
				Size: f.Size, ModTime: c, Typeflag: tar.TypeReg})
			if err != nil {
				return nil, err
			}
			desc.Annotations = map[string]string{spec.AnnotationFilepath: f.Path, spec.AnnotationFileMetadata: string(meta)}
		}
		m.Layers = append(m.Layers, desc)
	}
	if err := checkSpec(&md); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(model)
	if err != nil {
		return nil, err
	}
	if err := Validate(raw); err != nil {
		return nil, err
	}
	m.Config = raw
	return m, nil
}

// Validate checks a model config against the ModelPack config schema; the
// first violation is an *Error naming the field.
func Validate(config []byte) error {
	vs, err := Check(config)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(vs) > 0 {
		return &Error{Field: strings.Join(pointerParts(vs[0].Field), "."), Message: vs[0].Message}
	}
	return nil
}

// MediaType is the ModelPack media type of a layer of role r stored with
// compression c: application/vnd.cncf.model.weight.v1.tar for plain tar
// weights, …weight.config.v1.tar+gzip for gzipped config files, and so
// on (weights, weight config, doc and code; tar, tar+gzip, tar+zstd).
func MediaType(r builder.Role, c builder.Compression) types.MediaType {
	kind := map[builder.Role]string{builder.RoleWeights: "weight", builder.RoleConfig: "weight.config",
		builder.RoleDocs: "doc", builder.RoleCode: "code"}[r]
	if kind == "" {
		kind = "weight.config"
	}
	mt := "application/vnd.cncf.model." + kind + ".v1.tar"
	switch c {
	case builder.Gzip:
		mt += "+gzip"
	case builder.Zstd:
		mt += "+zstd"
	}
	return types.MediaType(mt)
}

// weightFormat is the format all weight files share ("safetensors",
// "gguf", "onnx"), or "".
func weightFormat(layers []*builder.Layer) string {
	formats := map[string]bool{}
	for _, l := range layers {
		if l.Role() != builder.RoleWeights {
			continue
		}
		for _, f := range l.Files() {
			formats[strings.TrimPrefix(strings.ToLower(path.Ext(f.Path)), ".")] = true
		}
	}
	if len(formats) != 1 {
		return ""
	}
	var only []string
	for f := range formats {
		only = append(only, f)
	}
	sort.Strings(only)
	switch only[0] {
	case "safetensors", "gguf", "onnx":
		return only[0]
	}
	return ""
}
