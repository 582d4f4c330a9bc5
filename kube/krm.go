package kube

import (
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// FunctionKind is the functionConfig kind of the KRM function.
const (
	FunctionAPIVersion = "assetpack.dev/v1alpha1"
	FunctionKind       = "ImageVolume"
)

// FunctionSpec is the functionConfig's spec.
type FunctionSpec struct {
	Image      string   `json:"image"`
	Workload   string   `json:"workload"`
	Containers []string `json:"containers,omitempty"`
	MountPath  string   `json:"mountPath"`
	SubPath    string   `json:"subPath,omitempty"`
	VolumeName string   `json:"volumeName,omitempty"`
	PullPolicy string   `json:"pullPolicy,omitempty"`
}

type resourceList struct {
	APIVersion     string           `json:"apiVersion"`
	Kind           string           `json:"kind"`
	Items          []map[string]any `json:"items"`
	FunctionConfig map[string]any   `json:"functionConfig,omitempty"`
	Results        []map[string]any `json:"results,omitempty"`
}

// Function runs assetpack as a KRM function (kustomize exec/container
// function): it reads a ResourceList, adds the image volume named by the
// functionConfig (kind ImageVolume) to the workload and returns the list.
// Running it twice gives the same result (the volume and mounts are replaced).
// The functionConfig's image must be pinned by digest; see FunctionWith.
func Function(input []byte) ([]byte, error) { return FunctionWith(input, nil) }

// FunctionWith is Function whose functionConfig image is first passed to
// pin, which returns the reference to mount (for example a tag resolved to
// its digest through a registry); nil keeps the image as it is.
func FunctionWith(input []byte, pin func(image string) (string, error)) ([]byte, error) {
	var rl resourceList
	if err := yaml.Unmarshal(input, &rl); err != nil {
		return nil, invalid("the input is not a ResourceList: %v", err)
	}
	if rl.Kind != "ResourceList" {
		return nil, invalid("the input is a %q, not a ResourceList (run me as a KRM function)", rl.Kind)
	}
	if rl.FunctionConfig == nil {
		return nil, invalid("the ResourceList has no functionConfig (kind %s, apiVersion %s)", FunctionKind, FunctionAPIVersion)
	}
	if k, _ := rl.FunctionConfig["kind"].(string); k != FunctionKind {
		return nil, invalid("functionConfig kind %q: want %s", k, FunctionKind)
	}
	b, _ := json.Marshal(rl.FunctionConfig["spec"])
	var spec FunctionSpec
	if err := yaml.UnmarshalStrict(b, &spec); err != nil {
		return nil, invalid("functionConfig spec: %v", err)
	}
	w, err := ParseWorkload(spec.Workload)
	if err != nil {
		return nil, err
	}
	if pin != nil && spec.Image != "" {
		if spec.Image, err = pin(spec.Image); err != nil {
			return nil, err
		}
	}
	m := Mount{Reference: spec.Image, Containers: spec.Containers, MountPath: spec.MountPath, SubPath: spec.SubPath,
		VolumeName: spec.VolumeName, PullPolicy: corev1.PullPolicy(spec.PullPolicy)}
	found := false
	for i, item := range rl.Items {
		kind, _ := item["kind"].(string)
		meta, _ := item["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		if !strings.EqualFold(kind, w.Kind.Name) || name != w.Name {
			continue
		}
		found = true
		itemYAML, err := yaml.Marshal(item)
		if err != nil {
			return nil, err
		}
		opsYAML, err := JSON6902Patch(itemYAML, w, m)
		if err != nil {
			return nil, err
		}
		opsJSON, err := yaml.YAMLToJSON(opsYAML)
		if err != nil {
			return nil, err
		}
		patch, err := jsonpatch.DecodePatch(opsJSON)
		if err != nil {
			return nil, err
		}
		itemJSON, _ := json.Marshal(item)
		out, err := patch.Apply(itemJSON)
		if err != nil {
			return nil, fmt.Errorf("applying the image volume to %s: %w", w, err)
		}
		var patched map[string]any
		if err := json.Unmarshal(out, &patched); err != nil {
			return nil, err
		}
		rl.Items[i] = patched
	}
	if !found {
		return nil, invalid("no %s among the %d resources", w, len(rl.Items))
	}
	return yaml.Marshal(rl)
}
