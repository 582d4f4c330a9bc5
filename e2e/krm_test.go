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

// TestKRMFunction renders examples/kustomize-fn with kustomize, which runs
// assetpack krm as an exec function.
func TestKRMFunction(t *testing.T) {
	kustomize := tool(t, "kustomize")
	cmd := exec.Command(kustomize, "build", "--enable-alpha-plugins", "--enable-exec", "../examples/kustomize-fn")
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, out)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(out, &d); err != nil {
		t.Fatalf("output does not strict-decode: %v\n%s", err, out)
	}
	spec := d.Spec.Template.Spec
	var images int
	for _, v := range spec.Volumes {
		if v.Image != nil && strings.HasPrefix(v.Image.Reference, "registry.example.com/web/site-assets@sha256:") {
			images++
		}
	}
	if images != 1 || len(spec.Volumes) != 2 || spec.Containers[0].Image != "nginx:1.29" {
		t.Errorf("rendered:\n%s", out)
	}
	var mounted bool
	for _, m := range spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "assets" && m.SubPath == "site" && m.ReadOnly)
	}
	if !mounted {
		t.Errorf("nginx does not mount the image volume:\n%s", out)
	}
}
