package kube

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// MigrateOptions shape Migrate.
type MigrateOptions struct {
	// Image replaces the init container's image as the volume's reference,
	// typically the digest of the same content built by assetpack.
	Image string
	// SubPath overrides the sub-path taken from the copy source.
	SubPath string
	// PullPolicy of the image volume; default IfNotPresent.
	PullPolicy corev1.PullPolicy
}

// Migrate rewrites the init-container copy pattern — an init container
// copying files from its image into an emptyDir that the main containers
// mount — into an image volume: same volume name and mount paths, mounted
// read-only with the subPath of the copy source (cp -r /site/* /shared/ ⇒
// subPath: site); the init container and the emptyDir are removed. It
// returns the whole manifest stream rewritten (full objects, because a
// strategic-merge patch cannot swap a volume's source), and one line per
// change. Documents that are not workloads pass through unchanged. When no
// document holds the pattern, the error wraps ErrNotRecognised and says why.
func Migrate(manifest []byte, o MigrateOptions) ([]byte, []string, error) {
	if o.PullPolicy == "" {
		o.PullPolicy = DefaultPullPolicy
	}
	if !validPullPolicy(o.PullPolicy) {
		return nil, nil, pullPolicyError(o.PullPolicy)
	}
	if o.SubPath != "" {
		if err := checkSubPath(strings.Trim(o.SubPath, "/")); err != nil {
			return nil, nil, err
		}
	}
	docs, err := splitDocuments(manifest)
	if err != nil {
		return nil, nil, err
	}
	if len(docs) == 0 {
		return nil, nil, invalid("the manifest is empty")
	}
	var changes, reasons []string
	for i, d := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal(d, &obj); err != nil {
			return nil, nil, invalid("document %d: malformed YAML: %v", i+1, err)
		}
		kindName, _ := obj["kind"].(string)
		k, ok := KindByName(kindName)
		if !ok || kindName == "" {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		w := Workload{Kind: k, Name: name}
		out, ch, why, err := migrateObject(obj, w, o)
		if err != nil {
			return nil, nil, err
		}
		if why != "" {
			reasons = append(reasons, fmt.Sprintf("%s: %s", w, why))
			continue
		}
		docs[i] = out
		changes = append(changes, ch...)
	}
	if len(changes) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob in the manifest")
		}
		return nil, nil, fmt.Errorf("%w: %s; migrate rewrites an init container that copies files from its image into an emptyDir (for example command [sh, -c, \"cp -r /site/* /shared/\"]) that the main containers mount",
			ErrNotRecognised, strings.Join(reasons, "; "))
	}
	return joinDocuments(docs), changes, nil
}

// copyStep is what an init container's command copies.
type copyStep struct {
	container string
	src, dst  string // absolute directories: contents of src go into dst
	command   string
}

func migrateObject(obj map[string]any, w Workload, o MigrateOptions) (out []byte, changes []string, why string, err error) {
	spec, err := podSpecOf(obj, w.Kind)
	if err != nil {
		return nil, nil, "", err
	}
	if len(spec.InitContainers) == 0 {
		return nil, nil, "no init containers", nil
	}
	var step *copyStep
	var init corev1.Container
	var skipped []string
	for _, ic := range spec.InitContainers {
		s, reason := parseCopy(ic)
		if s != nil {
			step, init = s, ic
			break
		}
		skipped = append(skipped, fmt.Sprintf("init container %q %s", ic.Name, reason))
	}
	if step == nil {
		return nil, nil, strings.Join(skipped, "; "), nil
	}
	// The destination must be the init container's mount of an emptyDir.
	volName := ""
	for _, vm := range init.VolumeMounts {
		if path.Clean(vm.MountPath) == step.dst && vm.SubPath == "" {
			volName = vm.Name
		}
	}
	if volName == "" {
		return nil, nil, fmt.Sprintf("init container %q copies into %s, which is not one of its volume mounts", init.Name, step.dst), nil
	}
	vi := -1
	for i, v := range spec.Volumes {
		if v.Name == volName {
			vi = i
		}
	}
	if vi < 0 || spec.Volumes[vi].EmptyDir == nil {
		return nil, nil, fmt.Sprintf("volume %q that init container %q copies into is not an emptyDir", volName, init.Name), nil
	}
	for _, ic := range spec.InitContainers {
		if ic.Name == init.Name {
			continue
		}
		for _, vm := range ic.VolumeMounts {
			if vm.Name == volName {
				return nil, nil, fmt.Sprintf("init container %q also uses volume %q, so the copy is not the only writer", ic.Name, volName), nil
			}
		}
	}
	var users []string
	for _, c := range spec.Containers {
		for _, vm := range c.VolumeMounts {
			if vm.Name == volName {
				users = append(users, c.Name)
			}
		}
	}
	if len(users) == 0 {
		return nil, nil, fmt.Sprintf("no container mounts volume %q", volName), nil
	}

	ref := init.Image
	if o.Image != "" {
		ref = o.Image
	}
	sub := strings.Trim(step.src, "/")
	if o.SubPath != "" {
		sub = strings.Trim(o.SubPath, "/")
	}

	// Edit the generic object so that every other field stays as written.
	specMap := mapAt(obj, w.Kind.SpecPath)
	specMap["initContainers"] = removeNamed(specMap["initContainers"], init.Name)
	if len(specMap["initContainers"].([]any)) == 0 {
		delete(specMap, "initContainers")
	}
	vol := map[string]any{"name": volName, "image": map[string]any{"reference": ref, "pullPolicy": string(o.PullPolicy)}}
	vols := specMap["volumes"].([]any)
	for i, v := range vols {
		if m, ok := v.(map[string]any); ok && m["name"] == volName {
			vols[i] = vol
		}
	}
	for _, c := range specMap["containers"].([]any) {
		cm, _ := c.(map[string]any)
		mounts, _ := cm["volumeMounts"].([]any)
		for _, m := range mounts {
			mm, _ := m.(map[string]any)
			if mm["name"] != volName {
				continue
			}
			existing, _ := mm["subPath"].(string)
			if p := path.Join(sub, existing); p != "" && p != "." {
				mm["subPath"] = p
			} else {
				delete(mm, "subPath")
			}
			mm["readOnly"] = true
			changes = append(changes, fmt.Sprintf("%s: container %q mounts volume %q at %v read-only with subPath %q", w, cm["name"], volName, mm["mountPath"], mm["subPath"]))
		}
	}
	changes = append([]string{
		fmt.Sprintf("%s: removed init container %q (%s)", w, init.Name, step.command),
		fmt.Sprintf("%s: volume %q: emptyDir → image %s (pullPolicy %s)", w, volName, ref, o.PullPolicy),
	}, changes...)
	if !strings.Contains(ref, "@sha256:") {
		changes = append(changes, fmt.Sprintf("note: %s is a tag, not a digest: running Pods never pick up a moved tag; rebuild the content with 'assetpack build DIR --prefix %s -t REPO:TAG --push' and pass its digest with --image", ref, sub))
	}

	// Check the result as the API server would.
	newSpec, err := podSpecOf(obj, w.Kind)
	if err != nil {
		return nil, nil, "", err
	}
	if err := ValidatePodSpec(newSpec); err != nil {
		return nil, nil, "", fmt.Errorf("%s: the migrated pod spec would be rejected: %w", w, err)
	}
	out, err = yaml.Marshal(obj)
	return out, changes, "", err
}

func mapAt(obj map[string]any, p []string) map[string]any {
	cur := obj
	for _, k := range p {
		cur, _ = cur[k].(map[string]any)
	}
	return cur
}

func removeNamed(list any, name string) []any {
	items, _ := list.([]any)
	out := []any{}
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			continue
		}
		out = append(out, it)
	}
	return out
}

var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true}

// parseCopy recognises "cp [-flags] SRC/* DST" and "cp [-flags] SRC/. DST",
// directly or inside "sh -c" (possibly among other commands joined by && or ;).
func parseCopy(c corev1.Container) (*copyStep, string) {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) == 0 {
		return nil, "has no command to recognise"
	}
	var segments [][]string
	if shells[path.Base(argv[0])] {
		script := ""
		for i := 1; i < len(argv); i++ {
			if argv[i] == "-c" && i+1 < len(argv) {
				script = argv[i+1]
			}
		}
		if script == "" {
			return nil, "runs a shell without -c"
		}
		for _, seg := range splitScript(script) {
			segments = append(segments, strings.Fields(seg))
		}
	} else {
		segments = [][]string{argv}
	}
	for _, f := range segments {
		if len(f) == 0 || path.Base(f[0]) != "cp" {
			continue
		}
		var operands []string
		for _, t := range f[1:] {
			if strings.HasPrefix(t, "-") {
				if t == "-t" || strings.HasPrefix(t, "--target-directory") {
					return nil, "uses cp -t, which migrate does not rewrite"
				}
				continue
			}
			operands = append(operands, strings.Trim(t, `"'`))
		}
		if len(operands) != 2 {
			return nil, fmt.Sprintf("runs %q; migrate needs exactly one source and one destination", strings.Join(f, " "))
		}
		src, dst := operands[0], operands[1]
		var dir string
		switch {
		case strings.HasSuffix(src, "/*"):
			dir = strings.TrimSuffix(src, "/*")
		case strings.HasSuffix(src, "/."):
			dir = strings.TrimSuffix(src, "/.")
		default:
			return nil, fmt.Sprintf("copies %s itself rather than its contents (%s/* or %s/.), which has no image-volume equivalent", src, strings.TrimSuffix(src, "/"), strings.TrimSuffix(src, "/"))
		}
		if !path.IsAbs(dir) && dir != "" || !path.IsAbs(dst) {
			return nil, fmt.Sprintf("copies with relative paths (%s → %s)", src, dst)
		}
		if dir == "" {
			dir = "/"
		}
		return &copyStep{container: c.Name, src: path.Clean(dir), dst: path.Clean(dst), command: strings.Join(f, " ")}, ""
	}
	return nil, "does not run cp"
}

func splitScript(s string) []string {
	s = strings.NewReplacer("&&", "\n", ";", "\n", "||", "\n").Replace(s)
	return strings.Split(s, "\n")
}
