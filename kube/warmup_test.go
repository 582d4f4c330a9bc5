package kube_test

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/kube"
)

const warmRef = "registry.example.com/ml/tiny-llama@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestWarmupDaemonSet(t *testing.T) {
	tol, err := kube.ParseToleration("nvidia.com/gpu:NoSchedule")
	if err != nil {
		t.Fatal(err)
	}
	out, err := kube.WarmupDaemonSet(kube.Warmup{
		Reference:    warmRef,
		Namespace:    "models",
		NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"},
		Tolerations:  []corev1.Toleration{tol},
		Size:         &kube.ImageSize{Compressed: 20 << 30, Uncompressed: 20 << 30, Layers: 22},
		NodeImageFS:  200 << 30,
	})
	if err != nil {
		t.Fatalf("WarmupDaemonSet() = %v", err)
	}
	want := `# Warm-up of ` + warmRef + `: a Pod on every selected node holds the image.
# The image is 20.0 GiB unpacked in 22 layer(s), 20.0 GiB to pull; containerd keeps both the pulled blobs and the unpacked layers, about 40.0 GiB of each node's image filesystem.
# It takes 20% of a node image filesystem of 200.0 GiB; the kubelet garbage-collects unused images above 85% (170.0 GiB), so the node's other images should stay under 130.0 GiB.
# Ready when every node holds it: kubectl rollout status daemonset/tiny-llama-warmup -n models; then schedule the workloads that mount it.
apiVersion: apps/v1
kind: DaemonSet
metadata:
  labels:
    app.kubernetes.io/component: image-warmup
    app.kubernetes.io/instance: tiny-llama-warmup
    app.kubernetes.io/managed-by: assetpack
  name: tiny-llama-warmup
  namespace: models
spec:
  selector:
    matchLabels:
      app.kubernetes.io/component: image-warmup
      app.kubernetes.io/instance: tiny-llama-warmup
  template:
    metadata:
      labels:
        app.kubernetes.io/component: image-warmup
        app.kubernetes.io/instance: tiny-llama-warmup
    spec:
      automountServiceAccountToken: false
      containers:
      - image: registry.k8s.io/pause:3.10.2@sha256:f548e0e8e3dc1896ca956272154dde3314e8cc4fde0a57577ee9fa1c63f5baf4
        imagePullPolicy: IfNotPresent
        name: hold
        resources:
          limits:
            memory: 16Mi
          requests:
            cpu: 1m
            memory: 4Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: 65535
        volumeMounts:
        - mountPath: /image
          name: image
          readOnly: true
      nodeSelector:
        nvidia.com/gpu.present: "true"
      terminationGracePeriodSeconds: 0
      tolerations:
      - effect: NoSchedule
        key: nvidia.com/gpu
        operator: Exists
      volumes:
      - image:
          pullPolicy: IfNotPresent
          reference: ` + warmRef + `
        name: image
  updateStrategy:
    rollingUpdate:
      maxUnavailable: 100%
    type: RollingUpdate
`
	if string(out) != want {
		t.Errorf("WarmupDaemonSet() =\n%s\nwant\n%s", out, want)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(out, &ds); err != nil {
		t.Fatalf("the DaemonSet does not decode strictly: %v", err)
	}
	if err := kube.ValidatePodSpec(&ds.Spec.Template.Spec); err != nil {
		t.Errorf("ValidatePodSpec() = %v", err)
	}
}

func TestWarmupNote(t *testing.T) {
	size := &kube.ImageSize{Compressed: 10 << 30, Uncompressed: 12 << 30, Layers: 3}
	for _, tc := range []struct {
		fs   int64
		want string
	}{
		{0, "Compare that with the nodes' image filesystem"},
		{100 << 30, "It takes 22% of a node image filesystem of 100.0 GiB"},
		{25 << 30, "It takes 88% of a node image filesystem of 25.0 GiB: above 85%"},
		{20 << 30, "It does NOT fit a node image filesystem of 20.0 GiB"},
	} {
		note := kube.Warmup{Reference: warmRef, Size: size, NodeImageFS: tc.fs}.Note()
		if !strings.Contains(note, tc.want) || !strings.Contains(note, "22.0 GiB of each node's image filesystem") {
			t.Errorf("NodeImageFS %d: note =\n%s\nwant it to contain %q", tc.fs, note, tc.want)
		}
	}
	if note := (kube.Warmup{Reference: warmRef}).Note(); strings.Contains(note, "GiB") || !strings.Contains(note, "kubectl rollout status daemonset/tiny-llama-warmup;") {
		t.Errorf("without a size: %s", note)
	}
}

func TestParseToleration(t *testing.T) {
	for in, want := range map[string]corev1.Toleration{
		"dedicated=ml:NoSchedule": {Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ml", Effect: corev1.TaintEffectNoSchedule},
		"nvidia.com/gpu":          {Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists},
		"*":                       {Operator: corev1.TolerationOpExists},
		":NoExecute":              {Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	} {
		got, err := kube.ParseToleration(in)
		if err != nil || got != want {
			t.Errorf("ParseToleration(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"gpu:NoWay", "=x", "bad key!:NoSchedule"} {
		_, err := kube.ParseToleration(in)
		var fe *kube.FieldError
		if !errors.As(err, &fe) || fe.Field != "Tolerations" {
			t.Errorf("ParseToleration(%q) = %v, want a FieldError", in, err)
		}
	}
}

func TestWarmupErrors(t *testing.T) {
	for _, tc := range []struct {
		w     kube.Warmup
		field string
	}{
		{kube.Warmup{Reference: "registry.example.com/ml/tiny:v1"}, "Reference"},
		{kube.Warmup{Reference: warmRef, Name: "Tiny"}, "Name"},
		{kube.Warmup{Reference: warmRef, Namespace: "a/b"}, "Namespace"},
		{kube.Warmup{Reference: warmRef, NodeSelector: map[string]string{"a b": "x"}}, "NodeSelector"},
		{kube.Warmup{Reference: warmRef, PullPolicy: "Sometimes"}, "PullPolicy"},
	} {
		_, err := kube.WarmupDaemonSet(tc.w)
		var fe *kube.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, kube.ErrInvalid) {
			t.Errorf("WarmupDaemonSet(%+v) = %v, want a FieldError on %s", tc.w, err, tc.field)
		}
	}
	long := "registry.example.com/ml/" + strings.Repeat("x", 80) + "@sha256:" + strings.Repeat("0", 64)
	ds, err := kube.Warmup{Reference: long}.DaemonSet()
	if err != nil || len(ds.Name) > 63 || !strings.HasSuffix(ds.Name, "-warmup") {
		t.Errorf("a long repository name gives %v, %v", ds, err)
	}
}
