package kube

import (
	"fmt"
	"math"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultPauseImage is the container of a warm-up Pod: the pause image of
// Kubernetes 1.36 (kubeadm's PauseVersion is 3.10.2), pinned to the digest
// of its multi-platform index on registry.k8s.io. It only sleeps (pause(2)
// until SIGTERM), is a few hundred KiB, runs as user 65535 and is already
// on most nodes as their sandbox image, so a warm-up Pod pulls nothing but
// the image it mounts. Mirrors and air-gapped clusters pass their own
// (--pause-image).
const DefaultPauseImage = "registry.k8s.io/pause:3.10.2@sha256:f548e0e8e3dc1896ca956272154dde3314e8cc4fde0a57577ee9fa1c63f5baf4"

// The kubelet's defaults that decide whether an image fits a node's image
// filesystem: image garbage collection starts above this use
// (imageGCHighThresholdPercent), and pods are evicted below this much
// free space (evictionHard imagefs.available).
const (
	kubeletImageGCHighPercent        = 85
	kubeletImagefsEvictionFree       = 15
	defaultWarmupContainerName       = "hold"
	defaultWarmupMountPath           = "/image"
	warmupComponentLabel             = "app.kubernetes.io/component"
	warmupComponentLabelValue        = "image-warmup"
	warmupManagedByLabel             = "app.kubernetes.io/managed-by"
	warmupManagedByLabelValue        = "assetpack"
	warmupInstanceLabel              = "app.kubernetes.io/instance"
	warmupVolumeName                 = "image"
	warmupRequestCPU                 = "1m"
	warmupRequestMemory              = "4Mi"
	warmupLimitMemory                = "16Mi"
	warmupTerminationGraceSecs       = 0
	warmupPauseUser            int64 = 65535
)

// ImageSize is what an image costs a node.
type ImageSize struct {
	// Compressed is the bytes to pull: the layer blobs.
	Compressed int64
	// Uncompressed is the bytes of the unpacked layers (their tars).
	Uncompressed int64
	// Layers counts the layers.
	Layers int
}

// OnNode is what containerd keeps of a pulled image: the blobs in its
// content store and the unpacked layers in its snapshotter, both on the
// image filesystem (unless its CRI plugin sets discard_unpacked_layers).
func (s ImageSize) OnNode() int64 { return s.Compressed + s.Uncompressed }

// Warmup is a DaemonSet whose Pods mount an image as an image volume and
// sleep, so that every selected node holds the image (pulled by the
// kubelet, kept while the Pod runs) before the workloads that mount it are
// scheduled: the first model server on a node then starts without waiting
// for a pull of many GiB.
type Warmup struct {
	// Reference is the image, pinned by digest (REPO@sha256:HEX).
	Reference string
	// Name of the DaemonSet; default: the repository's last path element
	// and "-warmup" (a DNS label).
	Name string
	// Namespace of the DaemonSet; "" leaves it to kubectl's context.
	Namespace string
	// NodeSelector selects the nodes (such as the GPU nodes that run the
	// model server); empty means every node the tolerations allow.
	NodeSelector map[string]string
	// Tolerations let the Pods onto tainted nodes (ParseToleration).
	Tolerations []corev1.Toleration
	// PauseImage is the container that sleeps; default DefaultPauseImage.
	PauseImage string
	// PullPolicy of the image volume; default IfNotPresent.
	PullPolicy corev1.PullPolicy
	// PullSecrets are imagePullSecrets for private registries (of the
	// image volume and the pause image).
	PullSecrets []string
	// PriorityClassName, when set, lets the warm-up Pods preempt others.
	PriorityClassName string
	// Size, when known, is reported in the readiness note (see Note).
	Size *ImageSize
	// NodeImageFS is the size of the nodes' image filesystem in bytes, for
	// the readiness note; 0 when unknown.
	NodeImageFS int64
}

func (w Warmup) defaulted() Warmup {
	if w.Name == "" {
		w.Name = warmupName(w.Reference)
	}
	if w.PauseImage == "" {
		w.PauseImage = DefaultPauseImage
	}
	if w.PullPolicy == "" {
		w.PullPolicy = DefaultPullPolicy
	}
	return w
}

// warmupName is REPO's last path element, made a DNS label, and "-warmup".
func warmupName(ref string) string {
	repo := ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		repo = repo[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(repo) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 63-len("-warmup") {
		name = strings.TrimRight(name[:63-len("-warmup")], "-")
	}
	if name == "" {
		name = "image"
	}
	return name + "-warmup"
}

// ParseToleration parses KEY[=VALUE][:EFFECT]: operator Equal with a
// value, Exists without; no effect tolerates every effect of the key; "*"
// (or an empty key) tolerates every taint. EFFECT is NoSchedule,
// PreferNoSchedule or NoExecute.
func ParseToleration(s string) (corev1.Toleration, error) {
	kv, effect, _ := strings.Cut(s, ":")
	var t corev1.Toleration
	switch effect {
	case "":
	case string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute):
		t.Effect = corev1.TaintEffect(effect)
	default:
		return t, fieldError("Tolerations", s, "has effect %q: use NoSchedule, PreferNoSchedule or NoExecute (KEY[=VALUE][:EFFECT])", effect)
	}
	key, value, hasValue := strings.Cut(kv, "=")
	switch {
	case key == "*" || key == "":
		if hasValue {
			return t, fieldError("Tolerations", s, "has a value without a key: use KEY=VALUE[:EFFECT], or * for every taint")
		}
		t.Operator = corev1.TolerationOpExists
	case hasValue:
		t.Key, t.Operator, t.Value = key, corev1.TolerationOpEqual, value
	default:
		t.Key, t.Operator = key, corev1.TolerationOpExists
	}
	if t.Key != "" && !validLabelKey(t.Key) {
		return t, fieldError("Tolerations", s, "has key %q, which is not a label key (NAME or PREFIX/NAME)", t.Key)
	}
	return t, nil
}

// validLabelKey checks a label or taint key: an optional DNS subdomain
// prefix and "/", then a name of at most 63 alphanumerics, '-', '_', '.'
// that starts and ends alphanumeric.
func validLabelKey(k string) bool {
	name := k
	if p, n, ok := strings.Cut(k, "/"); ok {
		if !validSubdomain(p) {
			return false
		}
		name = n
	}
	if name == "" || len(name) > 63 {
		return false
	}
	alnum := func(r byte) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func (w Warmup) problems() []*FieldError {
	m := Mount{Reference: w.Reference, PullPolicy: w.PullPolicy, VolumeName: warmupVolumeName, MountPath: defaultWarmupMountPath}
	ps := m.problems()
	if !validName(w.Name) {
		ps = append(ps, &FieldError{Field: "Name", Value: w.Name, Reason: "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"})
	}
	if w.Namespace != "" && !validName(w.Namespace) {
		ps = append(ps, &FieldError{Field: "Namespace", Value: w.Namespace, Reason: "must be a DNS label"})
	}
	for k := range w.NodeSelector {
		if !validLabelKey(k) {
			ps = append(ps, &FieldError{Field: "NodeSelector", Value: k, Reason: "is not a label key (NAME or PREFIX/NAME)"})
		}
	}
	if w.PauseImage == "" || strings.ContainsAny(w.PauseImage, " \t\n") {
		ps = append(ps, &FieldError{Field: "PauseImage", Value: w.PauseImage, Reason: "must be an image reference"})
	}
	return ps
}

// DaemonSet is the warm-up DaemonSet: Pods that mount Reference as an
// image volume in a pause container (requests of 1m CPU and 4 MiB, not
// root, no privileges, no service account token), on the nodes that
// NodeSelector and Tolerations allow. A new digest rolls out to every node
// at once (maxUnavailable 100%): the point is to pull it everywhere.
func (w Warmup) DaemonSet() (*appsv1.DaemonSet, error) {
	w = w.defaulted()
	if ps := w.problems(); len(ps) > 0 {
		return nil, ps[0]
	}
	labels := map[string]string{warmupComponentLabel: warmupComponentLabelValue, warmupInstanceLabel: w.Name}
	vol := corev1.Volume{Name: warmupVolumeName, VolumeSource: corev1.VolumeSource{
		Image: &corev1.ImageVolumeSource{Reference: w.Reference, PullPolicy: w.PullPolicy},
	}}
	no, yes := false, true
	user := warmupPauseUser
	grace := int64(warmupTerminationGraceSecs)
	spec := corev1.PodSpec{
		Volumes: []corev1.Volume{vol},
		Containers: []corev1.Container{{
			Name:            defaultWarmupContainerName,
			Image:           w.PauseImage,
			VolumeMounts:    []corev1.VolumeMount{{Name: warmupVolumeName, MountPath: defaultWarmupMountPath, ReadOnly: true}},
			ImagePullPolicy: corev1.PullIfNotPresent,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(warmupRequestCPU), corev1.ResourceMemory: resource.MustParse(warmupRequestMemory)},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(warmupLimitMemory)},
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &user, AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
		NodeSelector:                  w.NodeSelector,
		Tolerations:                   w.Tolerations,
		AutomountServiceAccountToken:  &no,
		TerminationGracePeriodSeconds: &grace,
		PriorityClassName:             w.PriorityClassName,
	}
	for _, s := range w.PullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	if err := ValidatePodSpec(&spec); err != nil {
		return nil, err
	}
	all := intstr.FromString("100%")
	objLabels := map[string]string{warmupManagedByLabel: warmupManagedByLabelValue}
	for k, v := range labels {
		objLabels[k] = v
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, Labels: objLabels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &all}},
		},
	}, nil
}

// WarmupDaemonSet is the warm-up DaemonSet as YAML, headed by the
// readiness note (Note) as comments.
func WarmupDaemonSet(w Warmup) ([]byte, error) {
	ds, err := w.DaemonSet()
	if err != nil {
		return nil, err
	}
	y, err := marshal(ds)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, line := range strings.Split(w.defaulted().Note(), "\n") {
		b.WriteString("# " + line + "\n")
	}
	return append([]byte(b.String()), y...), nil
}

// Note is the readiness note: what the image costs each node's image
// filesystem against its size (when both are known), and how to wait for
// the warm-up before scheduling the workloads.
func (w Warmup) Note() string {
	w = w.defaulted()
	var lines []string
	lines = append(lines, fmt.Sprintf("Warm-up of %s: a Pod on every selected node holds the image.", w.Reference))
	if s := w.Size; s != nil {
		lines = append(lines, fmt.Sprintf("The image is %s unpacked in %d layer(s), %s to pull; containerd keeps both the pulled blobs and the unpacked layers, about %s of each node's image filesystem.",
			humanSize(s.Uncompressed), s.Layers, humanSize(s.Compressed), humanSize(s.OnNode())))
		if fs := w.NodeImageFS; fs > 0 {
			used := float64(s.OnNode()) / float64(fs) * 100
			gc := int64(float64(fs) * kubeletImageGCHighPercent / 100)
			switch {
			case s.OnNode() > fs:
				lines = append(lines, fmt.Sprintf("It does NOT fit a node image filesystem of %s (%.0f%%): the pull fails for lack of space; use larger disks or a smaller image.", humanSize(fs), used))
			case used > 100-kubeletImagefsEvictionFree:
				lines = append(lines, fmt.Sprintf("It takes %.0f%% of a node image filesystem of %s: above %d%%, with under %d%% free, the kubelet evicts Pods and garbage-collects images; use larger disks.", used, humanSize(fs), kubeletImageGCHighPercent, kubeletImagefsEvictionFree))
			default:
				lines = append(lines, fmt.Sprintf("It takes %.0f%% of a node image filesystem of %s; the kubelet garbage-collects unused images above %d%% (%s), so the node's other images should stay under %s.",
					used, humanSize(fs), kubeletImageGCHighPercent, humanSize(gc), humanSize(max(gc-s.OnNode(), 0))))
			}
		} else {
			lines = append(lines, "Compare that with the nodes' image filesystem (crictl imagefsinfo, or the kubelet's stats/summary): the kubelet garbage-collects images above 85% use and evicts Pods below 15% free.")
		}
	}
	ns := ""
	if w.Namespace != "" {
		ns = " -n " + w.Namespace
	}
	lines = append(lines, fmt.Sprintf("Ready when every node holds it: kubectl rollout status daemonset/%s%s; then schedule the workloads that mount it.", w.Name, ns))
	return strings.Join(lines, "\n")
}

// humanSize is a size in binary units with one decimal.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	exp := int(math.Log(float64(n)) / math.Log(unit))
	exp = min(exp, 6)
	return fmt.Sprintf("%.1f %ciB", float64(n)/math.Pow(unit, float64(exp)), "KMGTPE"[exp-1])
}
