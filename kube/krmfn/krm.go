package krmfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/assetpack/assetpack/kube"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// The functionConfig of the KRM function: kind ImageVolume with the
// settings under spec, or a ConfigMap with the same keys under data (what
// kpt fn eval and kustomize fn run make of "-- key=value" arguments).
const (
	FunctionAPIVersion = "assetpack.dev/v1alpha1"
	FunctionKind       = "ImageVolume"
)

// FunctionSpec is the functionConfig's spec: the kubernetes: section of
// assetpack.yaml (without format, output and file, which choose where
// `assetpack build` writes: a function's output is its ResourceList) plus
// the image to mount.
type FunctionSpec struct {
	// Image to mount: REPO@sha256:HEX, or a tag that Function.Pin resolves.
	Image string `json:"image"`
	// Workload is KIND/NAME, such as deployment/web.
	Workload string `json:"workload"`
	// Containers that mount the volume; default: the workload's only one.
	Containers []string `json:"containers,omitempty"`
	// MountPath is absolute.
	MountPath string `json:"mountPath"`
	// SubPath, VolumeName and PullPolicy are those of kube.Mount.
	SubPath    string `json:"subPath,omitempty"`
	VolumeName string `json:"volumeName,omitempty"`
	PullPolicy string `json:"pullPolicy,omitempty"`
}

// functionFields are FunctionSpec's keys, in the order messages list them.
var functionFields = []string{"image", "workload", "containers", "mountPath", "subPath", "volumeName", "pullPolicy"}

// mountFields maps a kube.FieldError's field to its functionConfig key.
var mountFields = map[string]string{"Reference": "image", "Workload": "workload", "Containers": "containers",
	"MountPath": "mountPath", "SubPath": "subPath", "VolumeName": "volumeName", "PullPolicy": "pullPolicy"}

// Function is assetpack's KRM function, a ResourceListProcessor of
// sigs.k8s.io/kustomize/kyaml/fn/framework: run it with framework.Execute
// or command.Build. It mounts the image of the functionConfig as an image
// volume in the workload it names, among the ResourceList's items: the
// volume is added, or replaces a volume of the same name whatever its
// source; each container gets the mount, replacing a mount of that volume
// or at that path. The rest of each item is kept (comments too). Running it
// again on its output changes nothing.
//
// It reports in ResourceList.results: an info result for each workload it
// patched (and for a pinned tag), a warning for a volume or mount it
// replaced, and an error result for each problem of the functionConfig
// (naming its field, such as spec.mountPath) or of the items (a missing
// workload or container, naming the functionConfig's field and file). With
// an error result, Process returns an error too, so that the function exits
// non-zero (the framework still writes the items and results); the error
// matches kube.ErrInvalid when the input is at fault.
type Function struct {
	// Pin, when set, turns the functionConfig's image into the reference
	// to mount, for example a tag resolved to its digest through a
	// registry; it is called once, after the functionConfig is checked.
	// Nil takes the image as it is, so it must be pinned by digest.
	Pin func(image string) (string, error)
}

// functionError is Process's error: the error behind the error results.
type functionError struct {
	err error
}

func (e *functionError) Error() string { return e.err.Error() }
func (e *functionError) Unwrap() error { return e.err }

// fnRun is one run of the function: the ResourceList, and where its
// functionConfig's fields are (spec. or data.) and come from.
type fnRun struct {
	rl      *framework.ResourceList
	prefix  string // "spec." or "data."
	file    *framework.File
	cfgRef  *kyaml.ResourceIdentifier
	failure error // the first failure that is not bad input
	invalid []string
}

// Process implements framework.ResourceListProcessor.
func (f Function) Process(rl *framework.ResourceList) error {
	r := &fnRun{rl: rl, prefix: "spec."}
	if fc := rl.FunctionConfig; fc != nil && !isEmptyNode(fc) {
		r.cfgRef = identify(fc)
		r.file = fileOf(fc)
	}
	if spec, ok := r.readConfig(); ok {
		r.apply(f, spec)
	}
	switch {
	case len(r.invalid) > 0:
		return &functionError{fmt.Errorf("%w: %s", kube.ErrInvalid, strings.Join(r.invalid, "; "))}
	case r.failure != nil:
		return &functionError{r.failure}
	}
	return nil
}

// fail adds an error result; cause is nil for bad input.
func (r *fnRun) fail(res *framework.Result, cause error) {
	res.Severity = framework.Error
	r.rl.Results = append(r.rl.Results, res)
	if cause == nil {
		r.invalid = append(r.invalid, res.Message)
	} else if r.failure == nil {
		r.failure = cause
	}
}

// configError is an error result about the functionConfig's field key.
func (r *fnRun) configError(key string, value any, format string, args ...any) {
	res := &framework.Result{Message: fmt.Sprintf(format, args...), ResourceRef: r.cfgRef, File: r.file}
	if key != "" {
		res.Field = &framework.Field{Path: r.prefix + key, CurrentValue: value}
	}
	r.fail(res, nil)
}

func (r *fnRun) fieldError(fe *kube.FieldError) {
	key := r.prefix + mountFields[fe.Field]
	msg := fmt.Sprintf("%s %s", key, fe.Reason)
	if fe.Value != "" {
		msg = fmt.Sprintf("%s %q %s", key, fe.Value, fe.Reason)
	}
	r.configError(mountFields[fe.Field], fe.Value, "%s", msg)
}

// readConfig decodes the functionConfig; ok is false after error results.
func (r *fnRun) readConfig() (spec FunctionSpec, ok bool) {
	fc := r.rl.FunctionConfig
	if fc == nil || isEmptyNode(fc) {
		r.configError("", nil, "the ResourceList has no functionConfig: give a kind %s (apiVersion %s) whose spec has image, workload, mountPath and the optional %s, or a ConfigMap with the same keys under data",
			FunctionKind, FunctionAPIVersion, strings.Join(functionFields[2:], ", "))
		return spec, false
	}
	kind, apiVersion := fc.GetKind(), fc.GetApiVersion()
	var fields map[string]any
	switch {
	case kind == FunctionKind:
		if apiVersion != FunctionAPIVersion {
			r.prefix = ""
			r.configError("apiVersion", apiVersion, "functionConfig apiVersion %q: kind %s is %s", apiVersion, FunctionKind, FunctionAPIVersion)
			return spec, false
		}
		node := fc.Field("spec")
		if node == nil || isEmptyNode(node.Value) {
			r.prefix = ""
			r.configError("spec", nil, "functionConfig %s has no spec: give image, workload and mountPath", FunctionKind)
			return spec, false
		}
		if err := node.Value.YNode().Decode(&fields); err != nil {
			r.prefix = ""
			r.configError("spec", nil, "functionConfig spec must be a mapping of %s: %v", strings.Join(functionFields, ", "), err)
			return spec, false
		}
	case kind == "ConfigMap" && (apiVersion == "v1" || apiVersion == ""):
		r.prefix = "data."
		if node := fc.Field("data"); node != nil && !isEmptyNode(node.Value) {
			data := map[string]string{}
			if err := node.Value.YNode().Decode(&data); err != nil {
				r.prefix = ""
				r.configError("data", nil, "functionConfig ConfigMap data must map keys to strings: %v", err)
				return spec, false
			}
			fields = map[string]any{}
			for k, v := range data {
				fields[k] = v
				if k == "containers" { // kpt and kustomize fn run give one string: a,b
					var names []any
					for _, n := range strings.Split(v, ",") {
						if n = strings.TrimSpace(n); n != "" {
							names = append(names, n)
						}
					}
					fields[k] = names
				}
			}
		}
	default:
		r.prefix = ""
		r.configError("kind", kind, "functionConfig kind %q (apiVersion %q): want kind %s (apiVersion %s) or a ConfigMap", kind, apiVersion, FunctionKind, FunctionAPIVersion)
		return spec, false
	}
	ok = true
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !containsString(functionFields, k) {
			hint := "the fields are " + strings.Join(functionFields, ", ")
			if s := closest(k, functionFields); s != "" {
				hint = fmt.Sprintf("did you mean %s? (%s)", s, hint)
			}
			if k == "format" || k == "output" || k == "file" {
				hint = "it is an assetpack.yaml setting for assetpack build; a function writes its ResourceList"
			}
			r.configError(k, nil, "unknown field %s%s: %s", r.prefix, k, hint)
		}
	}
	strs := map[string]*string{"image": &spec.Image, "workload": &spec.Workload, "mountPath": &spec.MountPath,
		"subPath": &spec.SubPath, "volumeName": &spec.VolumeName, "pullPolicy": &spec.PullPolicy}
	for _, k := range functionFields {
		v, present := fields[k]
		if !present || v == nil {
			continue
		}
		switch k {
		case "containers":
			list, isList := v.([]any)
			names := []string{}
			for _, it := range list {
				s, isString := it.(string)
				if !isString {
					isList = false
				}
				names = append(names, s)
			}
			if !isList {
				ok = false
				r.configError(k, v, "%s%s must be a list of container names, such as [nginx]", r.prefix, k)
				continue
			}
			spec.Containers = names
		default:
			s, isString := v.(string)
			if !isString {
				ok = false
				r.configError(k, v, "%s%s must be a string", r.prefix, k)
				continue
			}
			*strs[k] = s
		}
	}
	return spec, ok
}

// apply checks the settings, pins the image and patches the workload.
func (r *fnRun) apply(f Function, spec FunctionSpec) {
	w, werr := kube.ParseWorkload(spec.Workload)
	m := kube.Mount{Reference: spec.Image, Containers: spec.Containers, MountPath: spec.MountPath, SubPath: spec.SubPath,
		VolumeName: spec.VolumeName, PullPolicy: corev1.PullPolicy(spec.PullPolicy)}
	bad := len(r.invalid) > 0 // unknown fields: check the others, patch nothing
	var fe *kube.FieldError
	if spec.Workload == "" {
		r.configError("workload", nil, "%sworkload is missing: give KIND/NAME, such as deployment/web", r.prefix)
		bad = true
	} else if errors.As(werr, &fe) {
		r.fieldError(fe)
		bad = true
	}
	for _, p := range m.Problems() {
		if p.Field == "Reference" && f.Pin != nil && p.Value != "" && !strings.Contains(p.Reason, "control characters") {
			continue // a tag: Pin resolves it
		}
		r.fieldError(p)
		bad = true
	}
	if bad {
		return
	}
	if f.Pin != nil {
		ref, err := f.Pin(spec.Image)
		if err != nil {
			r.fail(&framework.Result{Message: fmt.Sprintf("pinning %simage %q: %v", r.prefix, spec.Image, err), ResourceRef: r.cfgRef, File: r.file,
				Field: &framework.Field{Path: r.prefix + "image", CurrentValue: spec.Image}}, fmt.Errorf("pinning image %q: %w", spec.Image, err))
			return
		}
		if ref != spec.Image {
			r.rl.Results = append(r.rl.Results, &framework.Result{Severity: framework.Info, ResourceRef: r.cfgRef, File: r.file,
				Message: fmt.Sprintf("pinned %s to %s", spec.Image, ref),
				Field:   &framework.Field{Path: r.prefix + "image", CurrentValue: spec.Image, ProposedValue: ref}})
		}
		m.Reference = ref
		for _, p := range m.Problems() {
			r.fieldError(p)
			bad = true
		}
		if bad {
			return
		}
	}
	m, _ = m.WithDefaults()

	var seen []string
	found := false
	for _, item := range r.rl.Items {
		kind, name := item.GetKind(), item.GetName()
		if !strings.EqualFold(kind, w.Kind.Name) || name != w.Name {
			if kind != "" && !isLocalConfig(item) {
				seen = append(seen, strings.ToLower(kind)+"/"+name)
			}
			continue
		}
		found = true
		r.mount(item, w, m)
	}
	if !found {
		sort.Strings(seen)
		has := "no resources"
		if len(seen) > 0 {
			has = "it has: " + strings.Join(seen, ", ")
		}
		r.configError("workload", spec.Workload, "%sworkload %q: no %s among the resources (%s)", r.prefix, spec.Workload, w, has)
	}
}

// mount patches one workload.
func (r *fnRun) mount(item *kyaml.RNode, w kube.Workload, m kube.Mount) {
	ref, file := identify(item), fileOf(item)
	specPath := strings.Join(w.Kind.SpecPath, ".")
	itemError := func(field, format string, args ...any) {
		res := &framework.Result{Message: fmt.Sprintf(format, args...), ResourceRef: ref, File: file}
		if field != "" {
			res.Field = &framework.Field{Path: field}
		}
		r.fail(res, nil)
	}
	spec, err := item.Pipe(kyaml.Lookup(w.Kind.SpecPath...))
	if err != nil || spec == nil || spec.YNode().Kind != kyaml.MappingNode {
		itemError(specPath, "%s has no pod spec at %s", w, specPath)
		return
	}
	var ps corev1.PodSpec
	if err := yaml.Unmarshal([]byte(spec.MustString()), &ps); err != nil {
		itemError(specPath, "%s: %s does not decode as a pod spec: %v", w, specPath, err)
		return
	}
	containers, err := kube.PickContainers(&ps, w, m.Containers)
	if err != nil {
		var fe *kube.FieldError
		if errors.As(err, &fe) {
			r.configError("containers", nil, "%scontainers is missing: %s", r.prefix, strings.TrimPrefix(fe.Reason, "is missing: "))
		} else {
			r.configError("containers", m.Containers, "%scontainers: %s", r.prefix, strings.TrimPrefix(err.Error(), kube.ErrInvalid.Error()+": "))
		}
		return
	}

	// The volume: added, or in place of the volume of that name.
	vol, err := toRNode(m.Volume())
	if err != nil {
		r.fail(&framework.Result{Message: err.Error()}, err)
		return
	}
	vols, err := spec.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, "volumes"))
	if err != nil || vols.YNode().Kind != kyaml.SequenceNode {
		itemError(specPath+".volumes", "%s: %s.volumes is not a list", w, specPath)
		return
	}
	volField := fmt.Sprintf("%s.volumes[name=%s]", specPath, m.VolumeName)
	var results framework.Results
	if i, old := element(vols, "name", m.VolumeName); old == nil {
		vols.YNode().Content = append(vols.YNode().Content, vol.YNode())
	} else if !sameNode(old, vol) {
		if old.Field("image") == nil {
			results = append(results, &framework.Result{Severity: framework.Warning, ResourceRef: ref, File: file, Field: &framework.Field{Path: volField},
				Message: fmt.Sprintf("volume %q of %s had another source (%s); it is now the image volume", m.VolumeName, w, sourceOf(old))})
		}
		vols.YNode().Content[i] = vol.YNode()
	}

	// Each container's mount: in place of a mount of the volume or at the path.
	mount, err := toRNode(m.VolumeMount())
	if err != nil {
		r.fail(&framework.Result{Message: err.Error()}, err)
		return
	}
	if ro := mount.Field("readOnly"); ro != nil { // last, as people write it
		mount.YNode().Content = append(slices.DeleteFunc(mount.YNode().Content, func(n *kyaml.Node) bool {
			return n == ro.Key.YNode() || n == ro.Value.YNode()
		}), ro.Key.YNode(), ro.Value.YNode())
	}
	cs, _ := spec.Pipe(kyaml.Lookup("containers"))
	for _, name := range containers {
		_, c := element(cs, "name", name)
		mounts, err := c.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, "volumeMounts"))
		if err != nil || mounts.YNode().Kind != kyaml.SequenceNode {
			itemError(fmt.Sprintf("%s.containers[name=%s].volumeMounts", specPath, name), "%s: container %q: volumeMounts is not a list", w, name)
			return
		}
		var kept []*kyaml.Node
		at := -1
		for _, mn := range mounts.YNode().Content {
			rn := kyaml.NewRNode(mn)
			vname, path := fieldString(rn, "name"), fieldString(rn, "mountPath")
			if vname != m.VolumeName && path != m.MountPath {
				kept = append(kept, mn)
				continue
			}
			if at < 0 {
				at = len(kept)
				if sameNode(rn, mount) {
					kept = append(kept, mn) // already there: keep its bytes
					continue
				}
				kept = append(kept, mount.YNode())
			}
			if vname != m.VolumeName {
				results = append(results, &framework.Result{Severity: framework.Warning, ResourceRef: ref, File: file,
					Field:   &framework.Field{Path: fmt.Sprintf("%s.containers[name=%s].volumeMounts[mountPath=%s]", specPath, name, path)},
					Message: fmt.Sprintf("container %q of %s mounted volume %q at %s; it now mounts the image volume there", name, w, vname, path)})
			}
		}
		if at < 0 {
			kept = append(kept, mount.YNode())
		}
		mounts.YNode().Content = kept
	}

	// Check the result as the API server would.
	var after corev1.PodSpec
	if err := yaml.Unmarshal([]byte(spec.MustString()), &after); err != nil {
		itemError(specPath, "%s: the patched pod spec does not decode: %v", w, err)
		return
	}
	if err := kube.ValidatePodSpec(&after); err != nil {
		itemError(specPath, "%s: the patched pod spec would be rejected: %s", w, strings.TrimPrefix(err.Error(), kube.ErrInvalid.Error()+": "))
		return
	}
	sub := ""
	if m.SubPath != "" {
		sub = fmt.Sprintf(" (subPath %s)", m.SubPath)
	}
	r.rl.Results = append(r.rl.Results, &framework.Result{Severity: framework.Info, ResourceRef: ref, File: file, Field: &framework.Field{Path: volField},
		Message: fmt.Sprintf("%s mounts %s read-only at %s%s in %s %s", w, m.Reference, m.MountPath, sub, plural(len(containers), "container", "containers"), strings.Join(containers, ", "))})
	r.rl.Results = append(r.rl.Results, results...)
}

// toRNode turns a typed object into a block-style node with its fields in
// the order of the Go type (name first), without empty values.
func toRNode(obj any) (*kyaml.RNode, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	n, err := kyaml.Parse(string(b))
	if err != nil {
		return nil, err
	}
	var clean func(n *kyaml.Node) bool // reports whether n is empty
	clean = func(n *kyaml.Node) bool {
		n.Style = 0
		switch n.Kind {
		case kyaml.MappingNode:
			var kept []*kyaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				n.Content[i].Style = 0
				if !clean(n.Content[i+1]) {
					kept = append(kept, n.Content[i], n.Content[i+1])
				}
			}
			n.Content = kept
			return len(kept) == 0
		case kyaml.SequenceNode:
			for _, c := range n.Content {
				clean(c)
			}
			return false
		case kyaml.ScalarNode:
			return n.Tag == "!!null" || n.Tag == "!!str" && n.Value == ""
		}
		return false
	}
	clean(n.YNode())
	return n, nil
}

// element is the item of list whose field key is value, and its index.
func element(list *kyaml.RNode, key, value string) (int, *kyaml.RNode) {
	if list == nil || list.YNode().Kind != kyaml.SequenceNode {
		return -1, nil
	}
	for i, n := range list.YNode().Content {
		if rn := kyaml.NewRNode(n); fieldString(rn, key) == value {
			return i, rn
		}
	}
	return -1, nil
}

func fieldString(n *kyaml.RNode, key string) string {
	if n.YNode().Kind != kyaml.MappingNode {
		return ""
	}
	if f := n.Field(key); f != nil && f.Value.YNode().Kind == kyaml.ScalarNode {
		return f.Value.YNode().Value
	}
	return ""
}

// sameNode reports whether two nodes hold the same data.
func sameNode(a, b *kyaml.RNode) bool {
	var x, y any
	if a.YNode().Decode(&x) != nil || b.YNode().Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sourceOf names a volume's source (its key other than name).
func sourceOf(vol *kyaml.RNode) string {
	if keys, err := vol.Fields(); err == nil {
		for _, k := range keys {
			if k != "name" {
				return k
			}
		}
	}
	return "none"
}

// identify is a result's reference to an item.
func identify(n *kyaml.RNode) *kyaml.ResourceIdentifier {
	return &kyaml.ResourceIdentifier{
		TypeMeta: kyaml.TypeMeta{APIVersion: n.GetApiVersion(), Kind: n.GetKind()},
		NameMeta: kyaml.NameMeta{Name: n.GetName(), Namespace: n.GetNamespace()},
	}
}

// fileOf is the file an item was read from, as its orchestrator annotated
// it (kustomize fn run and kpt do; kustomize build does not), or nil.
func fileOf(n *kyaml.RNode) *framework.File {
	p, i, err := kioutil.GetFileAnnotations(n)
	if err != nil || p == "" {
		return nil
	}
	f := &framework.File{Path: p}
	fmt.Sscan(i, &f.Index)
	return f
}

func isLocalConfig(n *kyaml.RNode) bool {
	return n.GetAnnotations()["config.kubernetes.io/local-config"] == "true"
}

func isEmptyNode(n *kyaml.RNode) bool {
	if n == nil || n.YNode() == nil {
		return true
	}
	y := n.YNode()
	return y.Kind == 0 || y.Tag == "!!null" || (y.Kind == kyaml.MappingNode || y.Kind == kyaml.SequenceNode) && len(y.Content) == 0
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// closest is the candidate within two edits of s (case-insensitive), if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
