package kube

import (
	"fmt"
	"path"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ValidatePodSpec applies the checks a Kubernetes 1.36 API server makes on
// the parts assetpack writes: every volume has exactly one source and a
// unique name; an image volume has a non-empty reference and a valid pull
// policy; mounts name an existing volume at an absolute path, with no ".."
// in subPath; container names are unique. (k8s.io/kubernetes' validation
// package needs a replace directive for each of its staging modules, which
// a library cannot ask of its users, so these rules are restated here from
// the API documentation and the behaviour of a 1.36 API server; the
// hack/kubevalidate module checks assetpack's output with the real one.)
func ValidatePodSpec(spec *corev1.PodSpec) error {
	vols := map[string]bool{}
	for i, v := range spec.Volumes {
		field := fmt.Sprintf("spec.volumes[%d]", i)
		if v.Name == "" {
			return invalid("%s.name is empty", field)
		}
		if vols[v.Name] {
			return invalid("%s: duplicate volume name %q", field, v.Name)
		}
		vols[v.Name] = true
		if n := countSources(v.VolumeSource); n != 1 {
			return invalid("%s (%q) has %d volume sources; exactly one is allowed", field, v.Name, n)
		}
		if v.Image != nil {
			if v.Image.Reference == "" {
				return invalid("%s.image.reference is empty", field)
			}
			if v.Image.PullPolicy != "" && !validPullPolicy(v.Image.PullPolicy) {
				return invalid("%s.image.pullPolicy %q must be Always, IfNotPresent or Never", field, v.Image.PullPolicy)
			}
		}
	}
	names := map[string]bool{}
	check := func(kind string, cs []corev1.Container) error {
		for i, c := range cs {
			field := fmt.Sprintf("spec.%s[%d]", kind, i)
			if names[c.Name] {
				return invalid("%s: duplicate container name %q", field, c.Name)
			}
			names[c.Name] = true
			for j, m := range c.VolumeMounts {
				mf := fmt.Sprintf("%s.volumeMounts[%d]", field, j)
				if !vols[m.Name] {
					return invalid("%s: volume %q does not exist", mf, m.Name)
				}
				if !path.IsAbs(m.MountPath) {
					return invalid("%s.mountPath %q must be absolute", mf, m.MountPath)
				}
				if strings.HasPrefix(m.SubPath, "/") {
					return invalid("%s.subPath %q must be relative", mf, m.SubPath)
				}
				for _, part := range strings.Split(m.SubPath, "/") {
					if part == ".." {
						return invalid("%s.subPath %q must not contain \"..\"", mf, m.SubPath)
					}
				}
			}
		}
		return nil
	}
	if err := check("initContainers", spec.InitContainers); err != nil {
		return err
	}
	return check("containers", spec.Containers)
}

// countSources counts the non-nil source pointers of a VolumeSource.
func countSources(vs corev1.VolumeSource) int {
	n := 0
	v := reflect.ValueOf(vs)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}
