//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKustomizeComponent renders the site example's overlay with the
// Component assetpack writes, using standalone kustomize v5.8.
func TestKustomizeComponent(t *testing.T) {
	kustomize := tool(t, "kustomize")
	work := t.TempDir()
	copyDir(t, "../examples/site/k8s", filepath.Join(work, "k8s"))
	ref := "registry.example.com/web/site-assets@sha256:" + strings.Repeat("5e", 32)
	for round, r := range []string{strings.Replace(ref, "5e5e", "0000", 1), ref} { // the second run updates the Component
		p := runEnv(t, work, nil, "", bin, "patch", r, "--workload", "deployment/web", "--container", "nginx",
			"--mount-path", "/usr/share/nginx/html", "--sub-path", "site", "--format", "kustomize", "--output", "k8s/assets",
			"--kustomize-images", "-f", "k8s/base/deployment.yaml")
		if p.code != 0 {
			t.Fatalf("round %d: patch: exit %d: %s", round, p.code, p.stderr)
		}
	}
	out, err := exec.Command(kustomize, "build", filepath.Join(work, "k8s", "overlay")).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, out)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(out, &d); err != nil {
		t.Fatalf("kustomize output does not strict-decode: %v\n%s", err, out)
	}
	spec := d.Spec.Template.Spec
	var images []string
	for _, v := range spec.Volumes {
		if v.Image != nil {
			images = append(images, v.Image.Reference)
		}
	}
	if len(images) != 1 || images[0] != ref || len(spec.Volumes) != 2 {
		t.Errorf("volumes = %+v, want the cache volume and exactly one image volume %s", spec.Volumes, ref)
	}
	if *d.Spec.Replicas != 2 || spec.Containers[0].Image != "nginx:1.29" || len(spec.Containers[0].VolumeMounts) != 2 || spec.Containers[0].Ports[0].ContainerPort != 80 {
		t.Errorf("the rest of the Deployment changed:\n%s", out)
	}
	for _, m := range spec.Containers[0].VolumeMounts {
		if m.Name == "assets" && (m.SubPath != "site" || !m.ReadOnly || m.MountPath != "/usr/share/nginx/html") {
			t.Errorf("mount = %+v", m)
		}
	}
}
