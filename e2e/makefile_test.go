//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakefileInclude runs the targets of assetpack.mk in the example
// content repository against a real registry.
func TestMakefileInclude(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	// The same shape as this repository: examples/makefile includes ../../assetpack.mk.
	repo := filepath.Join(work, "examples", "makefile")
	copyDir(t, "../examples/makefile", repo)
	b, _ := os.ReadFile("../assetpack.mk")
	os.WriteFile(filepath.Join(work, "assetpack.mk"), b, 0o644)
	mk := func(args ...string) cmdResult {
		return runEnv(t, repo, []string{"COSIGN_PASSWORD=mk-pass", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}, "",
			"make", append([]string{"--no-print-directory", "ASSETPACK=" + bin}, args...)...)
	}
	if r := mk("assets"); r.code != 0 || !strings.Contains(r.stdout, "oci:assetpack-out/assets@sha256:") {
		t.Fatalf("make assets: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := mk("assets-patch"); r.code == 0 || !strings.Contains(r.stderr, "run make assets-push first") {
		t.Errorf("assets-patch before a push: %d %s", r.code, r.stderr)
	}
	image := reg.Host + "/web/site-assets:v1"
	r := mk("assets-push", "ASSETPACK_IMAGE="+image)
	if r.code != 0 {
		t.Fatalf("make assets-push: %d %s", r.code, r.stderr)
	}
	ref := strings.TrimSpace(readFile(t, filepath.Join(repo, ".assetpack-ref")))
	if !strings.HasPrefix(ref, reg.Host+"/web/site-assets@sha256:") {
		t.Fatalf(".assetpack-ref = %q", ref)
	}
	runEnv(t, work, []string{"COSIGN_PASSWORD=mk-pass"}, "", bin, "generate-key-pair")
	if r := mk("assets-sign", "ASSETPACK_KEY="+filepath.Join(work, "cosign.key")); r.code != 0 {
		t.Fatalf("make assets-sign: %d %s", r.code, r.stderr)
	}
	if v := runEnv(t, work, nil, "", bin, "verify", ref, "--key", "cosign.pub", "--insecure-ignore-tlog"); v.code != 0 {
		t.Errorf("the Makefile's signature does not verify: %s", v.stderr)
	}
	if r := mk("assets-patch"); r.code != 0 {
		t.Fatalf("make assets-patch: %d %s", r.code, r.stderr)
	}
	patch := readFile(t, filepath.Join(repo, "k8s", "assets-patch.yaml"))
	if !strings.Contains(patch, ref) || !strings.Contains(patch, "subPath: site") || !strings.Contains(patch, "name: nginx") {
		t.Errorf("patch = %s", patch)
	}
}
