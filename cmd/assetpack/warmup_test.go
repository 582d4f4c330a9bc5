package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/internal/testregistry"
)

func TestWarmupCommand(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyModel(t, filepath.Join(work, "tiny"))
	b := assetpack(t, work, nil, "build", "tiny", "--git=false", "--layers", "model", "-t", host+"/ml/tiny:v1", "--push")
	if b.code != 0 {
		t.Fatalf("build: %s", b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)

	r := assetpack(t, work, nil, "warmup", host+"/ml/tiny:v1", "--namespace", "models", "--node-selector", "gpu=true",
		"--toleration", "nvidia.com/gpu:NoSchedule", "--node-image-fs", "1Gi")
	if r.code != 0 {
		t.Fatalf("warmup: exit %d: %s", r.code, r.stderr)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &ds); err != nil {
		t.Fatalf("warmup output: %v\n%s", err, r.stdout)
	}
	spec := ds.Spec.Template.Spec
	if spec.Volumes[0].Image.Reference != ref || ds.Name != "tiny-warmup" || ds.Namespace != "models" ||
		spec.NodeSelector["gpu"] != "true" || spec.Tolerations[0].Key != "nvidia.com/gpu" {
		t.Errorf("DaemonSet:\n%s", r.stdout)
	}
	for _, want := range []string{"# Warm-up of " + ref, "of a node image filesystem of 1.0 GiB", "kubectl rollout status daemonset/tiny-warmup -n models"} {
		if !strings.Contains(r.stdout, want) || !strings.Contains(r.stderr, strings.TrimPrefix(want, "# ")) {
			t.Errorf("stdout and stderr should say %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}

	// patch --warmup: the Pod, then the DaemonSet.
	p := assetpack(t, work, nil, "patch", ref, "--format", "pod", "--mount-path", "/models", "--warmup", "--warmup-name", "warm")
	if p.code != 0 {
		t.Fatalf("patch --warmup: %s", p.stderr)
	}
	docs := strings.Split(p.stdout, "\n---\n")
	var pod corev1.Pod
	if len(docs) != 2 || yaml.UnmarshalStrict([]byte(docs[0]), &pod) != nil || yaml.UnmarshalStrict([]byte(docs[1]), &ds) != nil || ds.Name != "warm" {
		t.Errorf("patch --warmup:\n%s", p.stdout)
	}
	out := filepath.Join(work, "warm.yaml")
	p = assetpack(t, work, nil, "patch", ref, "--workload", "deployment/vllm", "--container", "vllm", "--mount-path", "/models", "--warmup", "--warmup-output", out)
	if b, err := os.ReadFile(out); p.code != 0 || err != nil || !strings.Contains(string(b), "kind: DaemonSet") || strings.Contains(p.stdout, "DaemonSet") {
		t.Errorf("patch --warmup --warmup-output: exit %d: %s %s", p.code, p.stdout, p.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"warmup", ref, "--toleration", "gpu:Never"}, `--toleration "gpu:Never" has effect "Never"`},
		{[]string{"warmup", ref, "--node-image-fs", "lots"}, `--node-image-fs "lots": want a size`},
		{[]string{"warmup", ref, "--namespace", "Bad"}, `--namespace "Bad" must be a DNS label`},
		{[]string{"warmup", "oci:out"}, "is a local image"},
		{[]string{"patch", ref, "--workload", "deployment/vllm", "--container", "vllm", "--mount-path", "/m", "--warmup"}, "needs --warmup-output FILE"},
		{[]string{"patch", ref, "--format", "pod", "--mount-path", "/m", "--node-selector", "gpu=true"}, "--node-selector shapes the warm-up DaemonSet: add --warmup"},
	} {
		r := assetpack(t, work, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
