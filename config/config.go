// Package config loads assetpack.yaml, the per-repository configuration of
// `assetpack build`, validated against the JSON Schema in
// assetpack.schema.json (errors name the key and its line).
package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/assetpack/assetpack/internal/gitrepo"
	"github.com/assetpack/assetpack/internal/jsondoc"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// FileName is the configuration file looked for in the current directory.
const FileName = "assetpack.yaml"

// Schema is the JSON Schema of assetpack.yaml.
//
//go:embed assetpack.schema.json
var Schema []byte

// ErrInvalid marks a configuration file that does not parse or validate.
var ErrInvalid = errors.New("invalid configuration")

// Config is assetpack.yaml.
type Config struct {
	Source     string   `json:"source,omitempty"`
	Prefix     string   `json:"prefix,omitempty"`
	Repository string   `json:"repository,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Push       bool     `json:"push,omitempty"`
	Platforms  []string `json:"platforms,omitempty"`
	// PlatformDirs packs one directory per platform (in place of Source
	// and Platforms).
	PlatformDirs []PlatformDir     `json:"platformDirs,omitempty"`
	Compression  string            `json:"compression,omitempty"`
	Layers       string            `json:"layers,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Excludes     []string          `json:"excludes,omitempty"`
	// UploadMode and UploadChunkSize are the upload overrides of
	// --upload-mode and --upload-chunk-size.
	UploadMode      string      `json:"uploadMode,omitempty"`
	UploadChunkSize string      `json:"uploadChunkSize,omitempty"`
	Sign            *Sign       `json:"sign,omitempty"`
	Kubernetes      *Kubernetes `json:"kubernetes,omitempty"`
	ModelPack       *ModelPack  `json:"modelpack,omitempty"`

	// Dir is the directory of the file: relative paths are resolved from it.
	Dir string `json:"-"`
	// Path is the file that was loaded.
	Path string `json:"-"`
}

// PlatformDir is one entry of platformDirs: a platform and the directory
// packed for it.
type PlatformDir struct {
	Platform string `json:"platform"`
	Source   string `json:"source"`
}

// Sign is the sign: section.
type Sign struct {
	Key        string `json:"key,omitempty"`
	Keyless    bool   `json:"keyless,omitempty"`
	TlogUpload bool   `json:"tlogUpload,omitempty"`
	// SBOM and Provenance attach a signed SBOM and SLSA provenance (nil:
	// the default, on); SBOMFormat is spdx or cyclonedx.
	SBOM       *bool  `json:"sbom,omitempty"`
	SBOMFormat string `json:"sbomFormat,omitempty"`
	Provenance *bool  `json:"provenance,omitempty"`
	// AttestFiles is the SBOM's deprecated predecessor: true means SBOM.
	AttestFiles bool `json:"attestFiles,omitempty"`
}

// ModelPack is the modelpack: section: its presence asks for the image's
// ModelPack twin (like --modelpack).
type ModelPack struct {
	Optional     bool   `json:"optional,omitempty"`
	Metadata     string `json:"metadata,omitempty"`
	Name         string `json:"name,omitempty"`
	Family       string `json:"family,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	Format       string `json:"format,omitempty"`
	ParamSize    string `json:"paramSize,omitempty"`
	Precision    string `json:"precision,omitempty"`
	Quantization string `json:"quantization,omitempty"`
}

// Kubernetes is the kubernetes: section.
type Kubernetes struct {
	Workload   string   `json:"workload"`
	Containers []string `json:"containers,omitempty"`
	MountPath  string   `json:"mountPath"`
	SubPath    string   `json:"subPath,omitempty"`
	VolumeName string   `json:"volumeName,omitempty"`
	PullPolicy string   `json:"pullPolicy,omitempty"`
	Format     string   `json:"format,omitempty"`
	Output     string   `json:"output,omitempty"`
	File       string   `json:"file,omitempty"`
}

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %q: %v", ErrInvalid, path, err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	c.Dir, c.Path = filepath.Dir(abs), path
	return c, nil
}

// Parse validates data (named name in errors) and decodes it.
func Parse(data []byte, name string) (*Config, error) {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	var inst any
	if err := json.Unmarshal(j, &inst); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	if inst == nil {
		inst = map[string]any{}
	}
	s, err := compiled()
	if err != nil {
		return nil, err
	}
	var vs []violation
	s.validate(inst, nil, &vs)
	if len(vs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, describe(vs, &root, name))
	}
	var c Config
	if string(bytes.TrimSpace(j)) != "null" {
		if err := json.Unmarshal(j, &c); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
		}
	}
	return &c, nil
}

// describe turns schema violations into "file:line: key: what is wrong" lines.
func describe(vs []violation, root *yamlv3.Node, name string) string {
	lines := make([]string, 0, len(vs))
	for _, v := range vs {
		key := strings.Join(v.loc, ".")
		if key == "" {
			key = "(top level)"
		}
		lines = append(lines, fmt.Sprintf("%s:%d: %s: %s", name, jsondoc.LineOf(root, v.loc), key, v.msg))
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

// GitData are the tag template placeholders.
type GitData struct {
	Commit, ShortCommit, Branch, Tag, Date string
}

// Git reads the placeholders from the git work tree holding dir. What it
// cannot read stays empty, and ExpandTags names the placeholder that needs it.
func Git(dir string) (GitData, error) {
	repo, err := gitrepo.Open(dir)
	if err != nil || repo == nil {
		return GitData{}, nil
	}
	head, ok, err := repo.Head()
	if err != nil || !ok {
		return GitData{}, nil
	}
	d := GitData{Commit: head.Hash.String(), ShortCommit: head.Hash.String()[:12], Branch: head.Branch}
	if when, err := repo.CommitTime(head.Hash); err == nil {
		d.Date = when.Format("20060102")
	}
	if names, err := repo.TagsAt(head.Hash); err == nil && len(names) > 0 {
		d.Tag = names[len(names)-1]
	}
	return d, nil
}

// ExpandTags renders the tag templates into REPOSITORY:TAG references.
// A placeholder git cannot fill (no work tree, detached HEAD for .Branch,
// no tag at HEAD for .Tag) is an error naming it.
func (c *Config) ExpandTags(d GitData) ([]string, error) {
	// Empty values render as a marker, so a placeholder git could not fill
	// is found in the output whatever the template's spacing or functions.
	const marker = "\x00"
	data := map[string]string{}
	for k, v := range map[string]string{"Commit": d.Commit, "ShortCommit": d.ShortCommit, "Branch": d.Branch, "Tag": d.Tag, "Date": d.Date} {
		if v == "" {
			v = marker + k + marker
		}
		data[k] = v
	}
	var out []string
	for i, t := range c.Tags {
		tmpl, err := template.New("tag").Option("missingkey=error").Parse(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: tags[%d] %q: %v", ErrInvalid, c.Path, i, t, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("%w: %s: tags[%d] %q: %v (placeholders: .Commit, .ShortCommit, .Branch, .Tag, .Date)", ErrInvalid, c.Path, i, t, err)
		}
		if parts := strings.Split(b.String(), marker); len(parts) > 2 {
			return nil, fmt.Errorf("%w: %s: tags[%d] %q uses .%s, which git cannot fill here (no work tree, detached HEAD or no tag at HEAD)", ErrInvalid, c.Path, i, t, parts[1])
		}
		tag := strings.NewReplacer("/", "-", "+", "-").Replace(b.String())
		if tag == "" {
			return nil, fmt.Errorf("%w: %s: tags[%d] %q expands to nothing here", ErrInvalid, c.Path, i, t)
		}
		out = append(out, c.Repository+":"+tag)
	}
	return out, nil
}

// Resolve makes a path from the file relative to the current directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}
