package kube

import (
	"fmt"
	"path"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
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
//
// It edits the manifest as a person would: only the lines of the entries
// that change are written again (the init container is deleted with the
// comment lines right above it, the emptyDir entry becomes the image entry,
// each mount gets subPath and readOnly); comments, blank lines, key order,
// quoting, indentation and the "---" lines stay as they are, and documents
// it does not change keep every byte.
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
	docs, err := splitStream(manifest)
	if err != nil {
		return nil, nil, err
	}
	var changes, reasons []string
	n := 0
	for i, d := range docs {
		if !d.content {
			continue
		}
		n++
		var obj map[string]any
		if err := yaml.Unmarshal(d.text, &obj); err != nil {
			return nil, nil, invalid("document %d: malformed YAML: %v", n, err)
		}
		kindName, _ := obj["kind"].(string)
		k, ok := KindByName(kindName)
		if !ok || kindName == "" {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		w := Workload{Kind: k, Name: name}
		out, ch, why, err := migrateObject(d.text, obj, w, o)
		if err != nil {
			return nil, nil, err
		}
		if why != "" {
			reasons = append(reasons, fmt.Sprintf("%s: %s", w, why))
			continue
		}
		docs[i].text = out
		changes = append(changes, ch...)
	}
	if n == 0 {
		return nil, nil, invalid("the manifest is empty")
	}
	if len(changes) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob in the manifest")
		}
		return nil, nil, fmt.Errorf("%w: %s; migrate rewrites an init container that copies files from its image into an emptyDir (for example command [sh, -c, \"cp -r /site/* /shared/\"]) that the main containers mount",
			ErrNotRecognised, strings.Join(reasons, "; "))
	}
	return joinStream(docs), changes, nil
}

// copyStep is what an init container's command copies.
type copyStep struct {
	container string
	src, dst  string // absolute directories: contents of src go into dst
	command   string
}

func migrateObject(text []byte, obj map[string]any, w Workload, o MigrateOptions) (out []byte, changes []string, why string, err error) {
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

	// Edit the document's node tree, so that every other line stays as written.
	ed, err := newDocEditor(text)
	if err != nil {
		return nil, nil, "", invalid("%s: malformed YAML: %v", w, err)
	}
	specNode := ed.body()
	for _, p := range w.Kind.SpecPath {
		specNode = mapGet(specNode, p)
	}
	if specNode == nil || specNode.Kind != yamlv3.MappingNode {
		return nil, nil, fmt.Sprintf("%s is not a mapping", strings.Join(w.Kind.SpecPath, ".")), nil
	}
	if hasAlias(specNode) {
		return nil, nil, "its pod spec uses YAML aliases or merge keys, which migrate does not rewrite", nil
	}
	inits := mapGet(specNode, "initContainers")
	if len(inits.Content) == 1 {
		ed.Delete(specNode, "initContainers")
	} else {
		ed.DeleteItem(inits, namedItem(inits, init.Name))
	}
	vols := mapGet(specNode, "volumes")
	image := &yamlv3.Node{Kind: yamlv3.MappingNode, Content: []*yamlv3.Node{
		scalar("reference", "!!str"), scalar(ref, "!!str"),
		scalar("pullPolicy", "!!str"), scalar(string(o.PullPolicy), "!!str"),
	}}
	ed.Replace(vols.Content[namedItem(vols, volName)], "emptyDir", "image", image)
	for _, c := range mapGet(specNode, "containers").Content {
		mounts := mapGet(c, "volumeMounts")
		if mounts == nil {
			continue
		}
		for _, m := range mounts.Content {
			if v := mapGet(m, "name"); v == nil || v.Value != volName {
				continue
			}
			existing := ""
			if v := mapGet(m, "subPath"); v != nil {
				existing = v.Value
			}
			p := path.Join(sub, existing)
			if p == "." {
				p = ""
			}
			if p != "" {
				ed.Set(m, "subPath", scalar(p, "!!str"))
			} else {
				ed.Delete(m, "subPath")
			}
			ed.Set(m, "readOnly", scalar("true", "!!bool"))
			mountPath := ""
			if v := mapGet(m, "mountPath"); v != nil {
				mountPath = v.Value
			}
			changes = append(changes, fmt.Sprintf("%s: container %q mounts volume %q at %s read-only with subPath %q", w, mapGet(c, "name").Value, volName, mountPath, p))
		}
	}
	changes = append([]string{
		fmt.Sprintf("%s: removed init container %q (%s)", w, init.Name, step.command),
		fmt.Sprintf("%s: volume %q: emptyDir → image %s (pullPolicy %s)", w, volName, ref, o.PullPolicy),
	}, changes...)
	if !strings.Contains(ref, "@sha256:") {
		changes = append(changes, fmt.Sprintf("note: %s is a tag, not a digest: running Pods never pick up a moved tag; rebuild the content with 'assetpack build DIR --prefix %s -t REPO:TAG --push' and pass its digest with --image", ref, sub))
	}
	if out, err = ed.Bytes(); err != nil {
		return nil, nil, "", invalid("%s: writing the migrated manifest: %v", w, err)
	}

	// Check the result as the API server would.
	var migrated map[string]any
	if err := yaml.Unmarshal(out, &migrated); err != nil {
		return nil, nil, "", invalid("%s: the migrated manifest does not parse: %v", w, err)
	}
	newSpec, err := podSpecOf(migrated, w.Kind)
	if err != nil {
		return nil, nil, "", err
	}
	if err := ValidatePodSpec(newSpec); err != nil {
		return nil, nil, "", fmt.Errorf("%s: the migrated pod spec would be rejected: %w", w, err)
	}
	return out, changes, "", nil
}

// namedItem is the index of the item of sequence s whose name is name.
func namedItem(s *yamlv3.Node, name string) int {
	for i, it := range s.Content {
		if v := mapGet(it, "name"); v != nil && v.Value == name {
			return i
		}
	}
	return -1
}

// hasAlias reports whether n holds an alias or a merge key: editing through
// one would change every place that shares it.
func hasAlias(n *yamlv3.Node) bool {
	if n.Kind == yamlv3.AliasNode || n.Anchor != "" || n.Kind == yamlv3.ScalarNode && n.Tag == "!!merge" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
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
