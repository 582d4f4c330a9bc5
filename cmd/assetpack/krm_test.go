package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/kube/krmfn"
)

// krm runs assetpack krm with stdin.
func krm(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"krm"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ASSETPACK_TEST_MAIN=1")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func fnConfig(image, extra string) string {
	return "apiVersion: assetpack.dev/v1alpha1\nkind: ImageVolume\nmetadata: {name: assets}\nspec:\n  image: " + image +
		"\n  workload: deployment/web\n  containers: [nginx]\n  mountPath: /usr/share/nginx/html\n" + extra
}

func resourceList(fc string) string {
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- ")
	b.WriteString(strings.ReplaceAll(strings.TrimSuffix(deployYAML, "\n"), "\n", "\n  "))
	b.WriteString("\nfunctionConfig:\n  ")
	b.WriteString(strings.ReplaceAll(strings.TrimSuffix(fc, "\n"), "\n", "\n  "))
	return b.String() + "\n"
}

// TestKRMCommand runs assetpack krm as kustomize and kpt do: a tag is
// pinned through the registry, results come back in the ResourceList, and
// the exit code says whether an error result was emitted.
func TestKRMCommand(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	b := assetpack(t, work, nil, "build", "site", "--git=false", "-t", host+"/web/site:v1", "--push", "-q")
	if b.code != 0 {
		t.Fatalf("build: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)

	r := krm(t, work, resourceList(fnConfig(host+"/web/site:v1", "")))
	if r.code != 0 || !strings.Contains(r.stdout, "reference: "+ref) || !strings.Contains(r.stdout, "kind: ResourceList") ||
		!strings.Contains(r.stdout, "message: pinned "+host+"/web/site:v1 to "+ref) || !strings.Contains(r.stdout, "severity: info") {
		t.Errorf("tag: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Bad input: exit 2, every problem named, the items and results written.
	r = krm(t, work, resourceList(fnConfig(ref, "  subPath: ../x\n  pullPolicy: Sometimes\n")))
	if r.code != 2 || !strings.Contains(r.stderr, `assetpack: invalid Kubernetes output request: spec.pullPolicy "Sometimes" must be Always, IfNotPresent or Never; spec.subPath "../x" contains ".."`) ||
		!strings.Contains(r.stdout, "kind: ResourceList") || strings.Count(r.stdout, "severity: error") != 2 || strings.Contains(r.stdout, "readOnly") {
		t.Errorf("bad input: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// The registry cannot be reached: exit 1.
	r = krm(t, work, resourceList(fnConfig("127.0.0.1:1/web/site:v1", "")))
	if r.code != 1 || !strings.Contains(r.stderr, `pinning image "127.0.0.1:1/web/site:v1"`) || !strings.Contains(r.stdout, "severity: error") {
		t.Errorf("unreachable registry: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Standalone: the functionConfig file and resource files; resources out.
	os.WriteFile(filepath.Join(work, "fn.yaml"), []byte(fnConfig(ref, "")), 0o644)
	os.WriteFile(filepath.Join(work, "deploy.yaml"), []byte(deployYAML), 0o644)
	r = krm(t, work, "", "fn.yaml", "deploy.yaml")
	if r.code != 0 || strings.Contains(r.stdout, "ResourceList") || !strings.HasPrefix(r.stdout, "apiVersion: apps/v1") || !strings.Contains(r.stdout, "reference: "+ref) {
		t.Errorf("standalone: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestKRMHelpNamesTheFunction: krm's help spells out the functionConfig's
// apiVersion and kind (a lite build links no krmfn to take them from); they
// must be the function's.
func TestKRMHelpNamesTheFunction(t *testing.T) {
	r := assetpack(t, t.TempDir(), nil, "krm", "--help")
	for _, want := range []string{"apiVersion: " + krmfn.FunctionAPIVersion + "\n", "kind: " + krmfn.FunctionKind + "\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("krm --help (exit %d) lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
}
