package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// ComponentOptions shape WriteComponent.
type ComponentOptions struct {
	// ImagesEntry also writes an images: entry (name: REPO, digest: …), so
	// that kustomize ≥ 5.7 rewrites other references to the same repository
	// (for example a tag in the base) to the digest. The patch itself always
	// carries the pinned digest, so the Component works with any kustomize,
	// including the v5.5 embedded in kubectl 1.32, which does not rewrite
	// image volume references.
	ImagesEntry bool
}

// Kustomization files are written through this small struct (plus a map for
// files that exist already) rather than sigs.k8s.io/kustomize/api/types:
// that module brings the whole kustomize engine for three fields.
type patchEntry struct {
	Path   string       `json:"path"`
	Target *patchTarget `json:"target,omitempty"`
}

type patchTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type imageEntry struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// WriteComponent writes (or updates) a Kustomize Component in dir: a
// strategic-merge patch file and a kustomization.yaml of kind Component that
// lists it under patches: (not the deprecated patchesStrategicMerge). An
// existing kustomization.yaml keeps its other entries; its entry for this
// patch (and image) is replaced. It returns the files written.
func WriteComponent(dir string, w Workload, m Mount, o ComponentOptions) ([]string, error) {
	patch, err := StrategicPatch(w, m)
	if err != nil {
		return nil, err
	}
	m, _ = m.WithDefaults()
	patchFile := m.VolumeName + "-patch.yaml"
	kfile := filepath.Join(dir, "kustomization.yaml")

	k := map[string]any{}
	switch b, err := os.ReadFile(kfile); {
	case err == nil:
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, invalid("%s is malformed YAML: %v", kfile, err)
		}
		if kind, _ := k["kind"].(string); kind != "" && kind != "Component" {
			return nil, invalid("%s is a %s, not a Component: choose another directory (a Component is included with components: from an overlay)", kfile, kind)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("reading %s: %w", kfile, err)
	}
	k["apiVersion"] = "kustomize.config.k8s.io/v1alpha1"
	k["kind"] = "Component"
	entry := patchEntry{Path: patchFile, Target: &patchTarget{Kind: w.Kind.Name, Name: w.Name}}
	k["patches"] = upsert(k["patches"], "path", patchFile, entry)
	if o.ImagesEntry {
		repo, digest, _ := strings.Cut(m.Reference, "@")
		k["images"] = upsert(k["images"], "name", repo, imageEntry{Name: repo, Digest: digest})
	}
	kb, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	header := []byte("# Written by assetpack: mounts " + m.Reference + "\n# as an image volume. Re-run assetpack to update it; other entries are kept.\n")
	pfile := filepath.Join(dir, patchFile)
	if err := writeAtomic(pfile, append([]byte("# Written by assetpack.\n"), patch...)); err != nil {
		return nil, err
	}
	if err := writeAtomic(kfile, append(header, kb...)); err != nil {
		return nil, err
	}
	return []string{kfile, pfile}, nil
}

// upsert replaces the list item whose key equals value, or appends item.
func upsert(list any, key, value string, item any) []any {
	items, _ := list.([]any)
	b, _ := yaml.Marshal(item)
	var generic any
	yaml.Unmarshal(b, &generic)
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m[key] == value {
			items[i] = generic
			return items
		}
	}
	return append(items, generic)
}

// writeAtomic writes a file through a temporary sibling.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// WriteFile writes data to path through a temporary sibling, creating the
// directory; a failure leaves no half-written file.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return writeAtomic(path, data)
}
