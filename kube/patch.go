package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Format is a patch output format.
type Format string

// Output formats of Patch.
const (
	Strategic Format = "strategic" // strategic-merge patch of the workload (kubectl patch, kustomize patches:)
	JSON6902  Format = "json6902"  // RFC 6902 operations; needs the workload manifest
	PodFormat Format = "pod"       // a complete Pod, for a quick try
	Kustomize Format = "kustomize" // a Kustomize Component directory
)

// ParseFormat validates a patch format: strategic (or smp,
// strategic-merge), json6902 (or json, jsonpatch), pod or kustomize.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Strategic, JSON6902, PodFormat, Kustomize:
		return f, nil
	case "smp", "strategic-merge":
		return Strategic, nil
	case "json", "jsonpatch":
		return JSON6902, nil
	}
	return "", fieldError("Format", s, "is not supported: use strategic, json6902, pod or kustomize")
}

// StrategicPatch is a strategic-merge patch that adds the image volume to
// the workload and mounts it in each container. Merge keys (volumes by
// name, containers by name, volumeMounts by mountPath) leave the rest of the
// workload intact. The volume name must be new to the workload: a patch that
// gives an existing volume an image source keeps the old source too and the
// API server rejects the Pod (use JSON6902Patch for that case).
func StrategicPatch(w Workload, m Mount) ([]byte, error) {
	m, err := m.WithDefaults()
	if err != nil {
		return nil, err
	}
	if len(m.Containers) == 0 {
		return nil, fieldError("Containers", "", "is missing: name the container(s) that mount the volume")
	}
	spec := corev1.PodSpec{Volumes: []corev1.Volume{m.Volume()}}
	for _, c := range m.Containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: c, VolumeMounts: []corev1.VolumeMount{m.VolumeMount()}})
	}
	obj, err := w.object(spec)
	if err != nil {
		return nil, err
	}
	return marshal(obj)
}

// PodOptions shape the Pod of PodFor.
type PodOptions struct {
	Name        string   // default "assets-demo"
	Image       string   // the container image, default "nginx:stable"
	PullSecrets []string // imagePullSecrets, for private registries
}

// PodFor is a complete Pod that mounts the image volume, for a quick try
// (kubectl apply -f). The container is m.Containers[0] (default "app").
func PodFor(m Mount, o PodOptions) ([]byte, error) {
	m, err := m.WithDefaults()
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "assets-demo"
	}
	if o.Image == "" {
		o.Image = "nginx:stable"
	}
	if len(m.Containers) == 0 {
		m.Containers = []string{"app"}
	}
	spec := corev1.PodSpec{Volumes: []corev1.Volume{m.Volume()}}
	for _, c := range m.Containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: c, Image: o.Image, VolumeMounts: []corev1.VolumeMount{m.VolumeMount()}})
	}
	for _, s := range o.PullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	if err := ValidatePodSpec(&spec); err != nil {
		return nil, err
	}
	w := Workload{Kind: Kinds[0], Name: o.Name}
	obj, err := w.object(spec)
	if err != nil {
		return nil, err
	}
	return marshal(obj)
}

// Op is one RFC 6902 operation.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// JSON6902Patch computes RFC 6902 operations against the workload manifest
// (YAML or JSON, one object of w's kind and name): the image volume is
// added, or replaces a volume of the same name whatever its source (the
// case a strategic-merge patch cannot express), and each container gets the
// mount (replacing one at the same mountPath). Containers default to the
// workload's only container.
func JSON6902Patch(manifest []byte, w Workload, m Mount) ([]byte, error) {
	m, spec, err := specFor(manifest, w, m)
	if err != nil {
		return nil, err
	}
	if m.Containers, err = PickContainers(spec, w, m.Containers); err != nil {
		return nil, err
	}
	base := "/" + strings.Join(w.Kind.SpecPath, "/")
	var ops []Op
	vi := -1
	for i, v := range spec.Volumes {
		if v.Name == m.VolumeName {
			vi = i
		}
	}
	switch {
	case spec.Volumes == nil:
		ops = append(ops, Op{"add", base + "/volumes", []corev1.Volume{m.Volume()}})
	case vi >= 0:
		ops = append(ops, Op{"replace", fmt.Sprintf("%s/volumes/%d", base, vi), m.Volume()})
	default:
		ops = append(ops, Op{"add", base + "/volumes/-", m.Volume()})
	}
	for _, name := range m.Containers {
		ci := containerIndex(spec, name)
		c := spec.Containers[ci]
		mi := -1
		for i, vm := range c.VolumeMounts {
			if vm.MountPath == m.MountPath {
				mi = i
			}
		}
		cpath := fmt.Sprintf("%s/containers/%d/volumeMounts", base, ci)
		switch {
		case c.VolumeMounts == nil:
			ops = append(ops, Op{"add", cpath, []corev1.VolumeMount{m.VolumeMount()}})
		case mi >= 0:
			ops = append(ops, Op{"replace", fmt.Sprintf("%s/%d", cpath, mi), m.VolumeMount()})
		default:
			ops = append(ops, Op{"add", cpath + "/-", m.VolumeMount()})
		}
	}
	return marshal(ops)
}

// CheckAgainst checks a strategic-merge patch request against the workload
// manifest: the containers exist, and the volume name is new or already an
// image volume (else the merge would leave two sources on one volume).
// It returns the containers to mount (the only one when none was named).
func CheckAgainst(manifest []byte, w Workload, m Mount) ([]string, error) {
	m, spec, err := specFor(manifest, w, m)
	if err != nil {
		return nil, err
	}
	for _, v := range spec.Volumes {
		if v.Name == m.VolumeName && v.Image == nil {
			return nil, fieldError("VolumeName", m.VolumeName, "is already a volume of %s with another source (%s): a strategic-merge patch would keep both sources and the API server rejects the Pod; choose another volume name, or replace it with JSON6902Patch",
				w, sourceName(v.VolumeSource))
		}
	}
	return PickContainers(spec, w, m.Containers)
}

// specFor checks m and finds w's pod spec in the manifest.
func specFor(manifest []byte, w Workload, m Mount) (Mount, *corev1.PodSpec, error) {
	m, err := m.WithDefaults()
	if err != nil {
		return m, nil, err
	}
	obj, err := findObject(manifest, w)
	if err != nil {
		return m, nil, err
	}
	spec, err := podSpecOf(obj, w.Kind)
	return m, spec, err
}

func containerIndex(spec *corev1.PodSpec, name string) int {
	for i, c := range spec.Containers {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// PickContainers returns the containers of spec that mount the volume:
// names, each checked to be in spec, or the pod's only container when names
// is empty. A name not in spec, or no name for a pod of several containers,
// is a *FieldError on Containers that lists the pod's containers.
func PickContainers(spec *corev1.PodSpec, w Workload, names []string) ([]string, error) {
	var all []string
	for _, c := range spec.Containers {
		all = append(all, c.Name)
	}
	if len(names) == 0 {
		if len(all) == 1 {
			return all, nil
		}
		return nil, fieldError("Containers", "", "is missing: %s has %d containers (%s); name the one(s) that mount the volume", w, len(all), strings.Join(all, ", "))
	}
	for _, n := range names {
		if containerIndex(spec, n) < 0 {
			return nil, invalid("%s has no container %q (it has: %s)", w, n, strings.Join(all, ", "))
		}
	}
	return names, nil
}

// WorkloadsIn lists the workloads of a YAML stream (the objects of a kind
// in Kinds), in order: a caller can take the only one as the workload to
// patch, or name the candidates when there are several.
func WorkloadsIn(manifest []byte) ([]Workload, error) {
	docs, err := splitDocuments(manifest)
	if err != nil {
		return nil, err
	}
	var out []Workload
	for _, d := range docs {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(d, &obj); err != nil {
			return nil, invalid("malformed YAML: %v", err)
		}
		if k, ok := KindByName(obj.Kind); ok && obj.Metadata.Name != "" {
			out = append(out, Workload{Kind: k, Name: obj.Metadata.Name, Namespace: obj.Metadata.Namespace})
		}
	}
	return out, nil
}

// ContainersOf lists the names of the containers (not the init
// containers) of w's pod spec in a YAML stream, in order.
func ContainersOf(manifest []byte, w Workload) ([]string, error) {
	obj, err := findObject(manifest, w)
	if err != nil {
		return nil, err
	}
	spec, err := podSpecOf(obj, w.Kind)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(spec.Containers))
	for i, c := range spec.Containers {
		names[i] = c.Name
	}
	return names, nil
}

// findObject finds the object of w's kind and name in a YAML stream.
func findObject(manifest []byte, w Workload) (map[string]any, error) {
	docs, err := splitDocuments(manifest)
	if err != nil {
		return nil, err
	}
	var seen []string
	for _, d := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal(d, &obj); err != nil {
			return nil, invalid("malformed YAML: %v", err)
		}
		kind, _ := obj["kind"].(string)
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		seen = append(seen, strings.ToLower(kind)+"/"+name)
		if strings.EqualFold(kind, w.Kind.Name) && name == w.Name {
			return obj, nil
		}
	}
	return nil, invalid("the manifest has no %s (it has: %s)", w, strings.Join(seen, ", "))
}

// podSpecOf decodes the pod spec at the kind's path.
func podSpecOf(obj map[string]any, k Kind) (*corev1.PodSpec, error) {
	var cur any = obj
	for _, p := range k.SpecPath {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, invalid("%s has no %s", k.Name, strings.Join(k.SpecPath, "."))
		}
		cur = m[p]
	}
	b, err := yaml.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var spec corev1.PodSpec
	if err := yaml.Unmarshal(b, &spec); err != nil {
		return nil, invalid("%s.%s does not decode as a pod spec: %v", k.Name, strings.Join(k.SpecPath, "."), err)
	}
	return &spec, nil
}

func sourceName(vs corev1.VolumeSource) string {
	b, _ := yaml.Marshal(vs)
	s := strings.TrimSpace(string(b))
	if k, _, ok := strings.Cut(s, ":"); ok {
		return k
	}
	return "unknown"
}
