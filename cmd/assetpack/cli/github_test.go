package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// TestGitHubActionsSummary: the job summary has the digest, the size row,
// the bytes uploaded and skipped, and each patch written.
func TestGitHubActionsSummary(t *testing.T) {
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	t.Setenv("GITHUB_OUTPUT", out)
	t.Setenv("GITHUB_STEP_SUMMARY", sum)
	pushed := &publish.PushResult{SentBytes: 3 << 20, SkippedBlobs: 2, SkippedBytes: 5 << 10}
	patches := []pack.PatchResult{
		{Format: kube.Strategic, Output: "k8s/assets-patch.yaml", Data: []byte("spec:\n  template: {}\n")},
		{Format: kube.Kustomize, Output: "k8s/assets", Files: []string{"kustomization.yaml", "assets-patch.yaml"}},
		{Format: kube.Strategic}, // printed, not written: not in the summary
	}
	err := githubActions("r.example/site@sha256:abc", "sha256:abc", pushed, [][2]string{{"size", "1.0 KiB in 1 layer(s), 3 files"}}, patches...)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(sum)
	s := string(b)
	for _, want := range []string{"| digest | `sha256:abc` |", "| size | 1.0 KiB in 1 layer(s), 3 files |",
		"| upload | 3.0 MiB sent, 5.0 KiB skipped (2 blobs already there) |",
		"<code>k8s/assets-patch.yaml</code> (strategic)", "```yaml\nspec:\n  template: {}\n```",
		"Kustomize Component `k8s/assets`: `kustomization.yaml`, `assets-patch.yaml`"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if o, _ := os.ReadFile(out); string(o) != "digest=sha256:abc\nref=r.example/site@sha256:abc\ntags=\n" {
		t.Errorf("GITHUB_OUTPUT = %q", o)
	}
}
