package builder

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// LayersModel plans the layers of a model directory: each weight file (see
// ModelRole) in a layer of its own, whatever its size, and the other files
// in one layer per role: the configuration and tokenizer files (and
// anything not named as documentation or code), the documentation, the
// code. A file of 32 MiB or more that is not a weight gets a layer of its
// own too, as with LayersAuto. A fine-tune that changes one shard changes
// one layer, and the ModelPack manifest of the image (package modelpack)
// can name each weight file's layer by its path. The plan depends only on
// the names (and, for files that are not weights, the sizes).
const LayersModel LayerMode = "model"

// MaxModelLayers is the most layers LayersModel plans: each layer is a
// lower directory of an overlay mount, and Docker refuses an image of more
// than 127 layers (containerd's and CRI-O's limits are higher). A model of
// more weight files than fit fails the build, naming the count.
const MaxModelLayers = 127

// Role is what the files of a layer are to a model (LayersModel); other
// layer modes leave it empty.
type Role string

// Roles of LayersModel, after ModelPack's layer kinds.
const (
	RoleWeights Role = "weights" // one weight file
	RoleConfig  Role = "config"  // configuration, tokenizer and any other files
	RoleDocs    Role = "docs"    // README, LICENSE, *.md, images, …
	RoleCode    Role = "code"    // *.py, *.sh, notebooks, …
)

// Names that tell a file's role. Matched case-insensitively against the
// file's base name; documented in the README ("Models").
var (
	weightExts = []string{".safetensors", ".gguf", ".ggml", ".onnx", ".bin", ".pt", ".pth", ".pt2",
		".ckpt", ".h5", ".keras", ".tflite", ".msgpack", ".npz"}
	docExts     = []string{".md", ".rst", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
	docPrefixes = []string{"readme", "license", "licence", "notice", "copying", "changelog", "model_card", "modelcard"}
	codeExts    = []string{".py", ".ipynb", ".sh", ".bash", ".js", ".mjs", ".ts", ".go", ".rs", ".c", ".cc",
		".cpp", ".h", ".hpp", ".cu", ".java", ".jl", ".lua", ".rb"}
)

// ModelRole is the role LayersModel gives a file, from its name: weights
// for the extensions of weight files (safetensors, gguf, ggml, onnx, bin,
// pt, pth, pt2, ckpt, h5, keras, tflite, msgpack, npz) and TensorFlow's
// variable shards (*.data-00000-of-00001); docs for README*, LICENSE*,
// NOTICE*, COPYING*, CHANGELOG*, model cards, Markdown, reStructuredText,
// PDF and images; code for scripts and sources (py, ipynb, sh, js, go, …)
// and requirements*.txt; config for everything else (config.json,
// tokenizer.json, tokenizer.model, merges.txt, vocab.txt, …).
func ModelRole(name string) Role {
	base := strings.ToLower(path.Base(name))
	ext := path.Ext(base)
	switch {
	case hasAny(ext, weightExts) || tfShard(base):
		return RoleWeights
	case hasAny(ext, codeExts) || strings.HasPrefix(base, "requirements") && ext == ".txt":
		return RoleCode
	case hasAny(ext, docExts) || hasPrefix(base, docPrefixes):
		return RoleDocs
	}
	return RoleConfig
}

func hasAny(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func hasPrefix(s string, list []string) bool {
	for _, x := range list {
		if strings.HasPrefix(s, x) {
			return true
		}
	}
	return false
}

// tfShard matches TensorFlow checkpoint data files such as
// variables.data-00000-of-00001.
func tfShard(base string) bool {
	i := strings.LastIndex(base, ".data-")
	if i < 0 {
		return false
	}
	var a, b int
	n, err := fmt.Sscanf(base[i:], ".data-%d-of-%d", &a, &b)
	return err == nil && n == 2
}

// planModel splits the sorted entries as LayersModel says: the groups
// (config, docs, code, those that hold anything) first, then the layers of
// their own in path order. Empty directories go with the config files;
// every other directory is written by the layers that need it. A plan that
// breaks lim (more layers than lim.MaxLayers, or a group larger than
// lim.MaxLayerSize) fails with ErrTooLarge: the model plan is not reshaped,
// since its point is one weight file per layer.
func planModel(entries []*entry, lim LayerLimits) ([]layerInput, error) {
	groups := map[Role][]*entry{}
	var own []layerInput
	for i, e := range entries {
		switch e.kind {
		case kindDir:
			if holdsAnything(entries, e.name) {
				continue // written by the layers of what it holds
			}
			groups[RoleConfig] = append(groups[RoleConfig], e)
		default:
			r := ModelRole(e.name)
			if e.kind == kindFile && (r == RoleWeights || e.size >= splitMinFile) {
				own = append(own, layerInput{span: entries[i : i+1], role: r})
				continue
			}
			groups[r] = append(groups[r], e)
		}
	}
	var out []layerInput
	for _, r := range []Role{RoleConfig, RoleDocs, RoleCode, RoleWeights} {
		if len(groups[r]) > 0 {
			out = append(out, layerInput{span: groups[r], role: r})
		}
	}
	out = append(out, own...)
	if len(out) > MaxModelLayers {
		return nil, optionError("layers", string(LayersModel), "needs %d layers for this tree (one per weight file, and one per kind of other file), more than the %d an image may have: merge shards into fewer, larger files, or use auto", len(out), MaxModelLayers)
	}
	if len(out) == 0 {
		out = []layerInput{{role: RoleConfig}}
	}
	for i := range out {
		out[i].parents = missingParents(&out[i])
	}
	if lim.MaxLayers > 0 && len(out) > lim.MaxLayers {
		return nil, &inputError{msg: fmt.Sprintf("planning layers: the model plan needs %d layers (one per weight file, and one per kind of other file), more than the %d allowed: %v; merge shards into fewer, larger files, or use auto", len(out), lim.MaxLayers, ErrTooLarge), err: ErrTooLarge}
	}
	if lim.MaxLayerSize > 0 {
		for i := range out {
			if in := &out[i]; in.files() > 1 && in.bytes()+tarOverhead(in) > lim.MaxLayerSize {
				return nil, &inputError{msg: fmt.Sprintf("planning layers: the model's %s files (%s) do not fit in one layer of at most %s: %v; raise the limit, or use auto", in.role, byteSize(in.bytes()), byteSize(lim.MaxLayerSize), ErrTooLarge), err: ErrTooLarge}
			}
		}
	}
	return out, nil
}

// holdsAnything reports whether the sorted entries hold anything below dir.
// Its children need not follow it: "a-b" sorts between "a" and "a/b".
func holdsAnything(entries []*entry, dir string) bool {
	p := dir + "/"
	i := sort.Search(len(entries), func(i int) bool { return entries[i].name >= p })
	return i < len(entries) && strings.HasPrefix(entries[i].name, p)
}

// File is a regular file or symlink that a layer holds.
type File struct {
	// Path is the slash path inside the image, the prefix included, as
	// in the layer's tar.
	Path string
	// Size is a regular file's size (0 for a symlink).
	Size int64
	// Mode is 0644 or 0755 for a file, fs.ModeSymlink|0777 for a link.
	Mode fs.FileMode
	// Link is a symlink's target.
	Link string
}

// Files lists the regular files and symlinks of the layer, in the order
// of its tar (directories are not listed).
func (l *Layer) Files() []File {
	var out []File
	l.in.each(func(e *entry) error {
		switch e.kind {
		case kindFile:
			out = append(out, File{Path: e.name, Size: e.size, Mode: fs.FileMode(e.mode)})
		case kindSymlink:
			out = append(out, File{Path: e.name, Mode: fs.ModeSymlink | 0o777, Link: e.linkname})
		}
		return nil
	})
	return out
}

// Role is what the layer's files are to a model (LayersModel), or "".
func (l *Layer) Role() Role { return l.in.role }
