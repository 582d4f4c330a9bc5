// Package kube turns a pinned image reference into the Kubernetes objects
// that mount it as an image volume: strategic-merge and JSON6902 patches, a
// complete Pod, a Kustomize Component; it also migrates the init-container
// copy pattern and resolves assetpack:// placeholders. It is pure: no
// network, no registry. Objects are built from k8s.io/api types and
// marshalled with sigs.k8s.io/yaml.
package kube

import (
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Errors callers branch on with errors.Is.
var (
	// ErrInvalid: an input value that cannot work (bad workload, relative
	// mount path, ".." in a sub-path, volume name clash, …). Errors about one
	// field's value are a *FieldError.
	ErrInvalid = errors.New("invalid Kubernetes output request")
	// ErrNotRecognised: migrate found no init-container copy pattern it can rewrite.
	ErrNotRecognised = errors.New("pattern not recognised")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// FieldError reports a value that cannot work: a field of Mount or
// MigrateOptions, or a value given to ParseWorkload or ParseFormat. Its
// message is ErrInvalid's, then the field in words, the quoted value (when
// not empty) and Reason, as in `invalid Kubernetes output request: mount
// path "srv" must be an absolute path, such as /usr/share/nginx/html`, so a
// CLI can name its flag in place of the field. It matches ErrInvalid.
type FieldError struct {
	// Field is "Reference", "MountPath", "SubPath", "VolumeName",
	// "PullPolicy" or "Containers" (the Mount fields; MigrateOptions has
	// the same SubPath and PullPolicy), "Workload" or "Format", or a
	// field of Warmup: "Name", "Namespace", "NodeSelector", "Tolerations",
	// "PauseImage".
	Field string
	// Value is the value as given ("" for a missing one).
	Value string
	// Reason follows the value in the message: what is wrong and what
	// would work.
	Reason string
}

func (e *FieldError) Error() string { return e.Named(fieldWords[e.Field]) }

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Named returns the message with name (such as a CLI's flag) in place of
// the field's words.
func (e *FieldError) Named(name string) string {
	if e.Value == "" {
		return fmt.Sprintf("%v: %s %s", ErrInvalid, name, e.Reason)
	}
	return fmt.Sprintf("%v: %s %q %s", ErrInvalid, name, e.Value, e.Reason)
}

// fieldWords are the fields as messages name them.
var fieldWords = map[string]string{
	"Reference":  "image reference",
	"MountPath":  "mount path",
	"SubPath":    "sub-path",
	"VolumeName": "volume name",
	"PullPolicy": "pull policy",
	"Containers": "container",
	"Workload":   "workload",
	"Format":     "format",
	// Warmup's fields.
	"Name":         "warm-up name",
	"Namespace":    "namespace",
	"NodeSelector": "node selector key",
	"Tolerations":  "toleration",
	"PauseImage":   "pause image",
}

func fieldError(field, value, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Defaults of Mount.
const (
	DefaultVolumeName = "assets"
	DefaultPullPolicy = corev1.PullIfNotPresent
)

// Mount is an image volume and the containers that mount it.
type Mount struct {
	// Reference is the image, pinned by digest (REPO@sha256:HEX).
	Reference string
	// VolumeName defaults to DefaultVolumeName.
	VolumeName string
	// PullPolicy defaults to IfNotPresent.
	PullPolicy corev1.PullPolicy
	// Containers that mount the volume, each at MountPath.
	Containers []string
	// MountPath is absolute.
	MountPath string
	// SubPath selects a directory of the image (the prefix it was built with).
	SubPath string
}

// WithDefaults returns m with its defaults filled (volume name, pull
// policy) and its mount path cleaned, after checking it: every problem is
// reported, one per line (each a *FieldError, in the order of Problems).
func (m Mount) WithDefaults() (Mount, error) {
	m = m.defaulted()
	if ps := m.problems(); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = p
		}
		return m, joinErrors(errs)
	}
	m.MountPath = path.Clean(m.MountPath)
	return m, nil
}

func (m Mount) defaulted() Mount {
	if m.VolumeName == "" {
		m.VolumeName = DefaultVolumeName
	}
	if m.PullPolicy == "" {
		m.PullPolicy = DefaultPullPolicy
	}
	m.SubPath = strings.Trim(m.SubPath, "/")
	return m
}

// Problems lists every field of m (defaults filled) that cannot work, in a
// fixed order: Reference, MountPath, PullPolicy, VolumeName, SubPath, then
// control characters, then Containers. The patch functions fail with all of
// them joined (see Check); the KRM function reports each as a result.
func (m Mount) Problems() []*FieldError {
	return m.defaulted().problems()
}

func (m Mount) problems() []*FieldError {
	var ps []*FieldError
	add := func(err error) {
		if fe, ok := err.(*FieldError); ok {
			ps = append(ps, fe)
		}
	}
	switch {
	case m.Reference == "":
		add(fieldError("Reference", "", "is empty"))
	case !strings.Contains(m.Reference, "@sha256:"):
		add(fieldError("Reference", m.Reference, "is not pinned by digest: running Pods never pick up a moved tag, so use REPO@sha256:HEX"))
	}
	if m.MountPath == "" || !strings.HasPrefix(m.MountPath, "/") {
		add(fieldError("MountPath", m.MountPath, "must be an absolute path, such as /usr/share/nginx/html"))
	}
	if !validPullPolicy(m.PullPolicy) {
		add(pullPolicyError(m.PullPolicy))
	}
	if !validName(m.VolumeName) {
		add(fieldError("VolumeName", m.VolumeName, "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"))
	}
	add(checkSubPath(m.SubPath))
	// In a fixed order, so that the same Mount always gets the same error.
	for _, f := range []struct{ field, value string }{{"MountPath", m.MountPath}, {"SubPath", m.SubPath}, {"Reference", m.Reference}} {
		if strings.IndexFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			add(fieldError(f.field, f.value, "contains control characters"))
		}
	}
	seen := map[string]bool{}
	for _, c := range m.Containers {
		if !validName(c) || seen[c] {
			add(fieldError("Containers", c, "must be a container name (a DNS label: lowercase letters, digits and '-') named once"))
		}
		seen[c] = true
	}
	return ps
}

// Check reports every problem of m at once, one per line (each a
// *FieldError), where the functions that render m stop at the first.
func (m Mount) Check() error {
	_, err := m.WithDefaults()
	return err
}

// joinErrors is errors.Join, except that a single error stays itself.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

func checkSubPath(p string) error {
	if strings.HasPrefix(p, "/") {
		return fieldError("SubPath", p, "must be relative to the image root")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fieldError("SubPath", p, "contains \"..\", which the API server rejects")
		}
	}
	return nil
}

func pullPolicyError(p corev1.PullPolicy) error {
	return fieldError("PullPolicy", string(p), "must be Always, IfNotPresent or Never")
}

// validSubdomain reports whether s is a DNS subdomain (object names).
func validSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !validName(part) {
			return false
		}
	}
	return true
}

func validPullPolicy(p corev1.PullPolicy) bool {
	return p == corev1.PullAlways || p == corev1.PullIfNotPresent || p == corev1.PullNever
}

// validName reports whether s is a DNS label (RFC 1123, as Kubernetes
// checks object, container and volume names): lower-case letters, digits
// and '-', at most 63 characters, starting and ending with a letter or digit.
func validName(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// Volume is the image volume.
func (m Mount) Volume() corev1.Volume {
	return corev1.Volume{Name: m.VolumeName, VolumeSource: corev1.VolumeSource{
		Image: &corev1.ImageVolumeSource{Reference: m.Reference, PullPolicy: m.PullPolicy},
	}}
}

// VolumeMount is how each container mounts it (always read-only: image
// volumes are read-only whatever the manifest says, so say it).
func (m Mount) VolumeMount() corev1.VolumeMount {
	return corev1.VolumeMount{Name: m.VolumeName, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: true}
}
