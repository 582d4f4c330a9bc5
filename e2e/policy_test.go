//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// kyvernoCLI returns the Kyverno CLI installed by hack/install-e2e-tools.sh.
func kyvernoCLI(t *testing.T) string {
	t.Helper()
	return tool(t, "kubectl-kyverno")
}

// workloadYAML is an object of kind whose pod spec has a container, an
// emptyDir volume and an image volume of ref.
func workloadYAML(kind, name, ref string) string {
	spec := fmt.Sprintf(`containers:
- name: web
  image: registry.example.com/nginx:1.29
  volumeMounts:
  - {name: assets, mountPath: /usr/share/nginx/html, readOnly: true}
volumes:
- name: cache
  emptyDir: {}
- name: assets
  image:
    reference: %s
    pullPolicy: IfNotPresent
`, ref)
	indent := func(s string, n int) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad) + "\n"
	}
	template := "metadata:\n  labels: {app: " + name + "}\nspec:\n" + indent(spec, 2)
	head := func(apiVersion string) string {
		return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: default\n", apiVersion, kind, name)
	}
	selector := "  selector:\n    matchLabels: {app: " + name + "}\n"
	switch kind {
	case "Pod":
		return head("v1") + "spec:\n" + indent(spec, 2)
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return head("apps/v1") + "spec:\n" + selector + "  template:\n" + indent(template, 4)
	case "ReplicationController":
		return head("v1") + "spec:\n  selector: {app: " + name + "}\n  template:\n" + indent(template, 4)
	case "Job":
		return head("batch/v1") + "spec:\n  template:\n" + indent(strings.Replace(template, "spec:\n", "spec:\n  restartPolicy: Never\n", 1), 4)
	case "CronJob":
		job := "spec:\n  template:\n" + indent(strings.Replace(template, "spec:\n", "spec:\n  restartPolicy: Never\n", 1), 4)
		return head("batch/v1") + "spec:\n  schedule: '@daily'\n  jobTemplate:\n" + indent(job, 4)
	}
	panic(kind)
}

var kyvernoCounts = regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+)`)

// kyvernoResult is what kyverno apply printed: its counts of rule results
// (a verifyImages rule yields two per resource: verification, then the
// digest and annotation check).
type kyvernoResult struct {
	cmdResult
	pass, fail, warn, errors, skip int
}

// kyvernoApply runs kyverno apply.
func kyvernoApply(t *testing.T, dir string, env []string, args ...string) kyvernoResult {
	t.Helper()
	r := runEnv(t, dir, env, "", kyvernoCLI(t), append([]string{"apply"}, args...)...)
	m := kyvernoCounts.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("kyverno apply %v printed no counts: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
	}
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return kyvernoResult{r, n[0], n[1], n[2], n[3], n[4]}
}

// passed: exit 0, verified, nothing failed.
func (k kyvernoResult) passed() bool {
	return k.code == 0 && k.pass > 0 && k.fail == 0 && k.warn == 0 && k.errors == 0
}

// failed: exit 1 on a failed verification (not an error reaching the registry).
func (k kyvernoResult) failed(why string) bool {
	return k.code != 0 && k.pass == 0 && k.fail > 0 && k.errors == 0 && strings.Contains(k.stdout, why)
}

func (k kyvernoResult) String() string {
	return fmt.Sprintf("exit %d, pass %d fail %d warn %d error %d skip %d\n%s%s", k.code, k.pass, k.fail, k.warn, k.errors, k.skip, k.stdout, k.stderr)
}

// TestPolicyKyverno: the ClusterPolicy assetpack policy writes, applied by
// the real Kyverno CLI to a Pod and to every pod-template kind, verifying
// signatures in Debian's registry on 127.0.0.1: an image volume signed by
// assetpack with its defaults passes the default policy; unsigned, or
// signed by another key, it fails. The container image is not the
// policy's business; Audit only warns; with Enforce a tag is verified and
// pinned to its digest. cosign v3's signature passes the default policy
// too; the legacy policy accepts the legacy signature and nothing else.
// Nothing leaves 127.0.0.1: HTTP(S) proxies point at a closed
// port, so a lookup of the public Sigstore root would fail the test.
func TestPolicyKyverno(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	// Anything that tries to leave 127.0.0.1 over HTTP(S) meets a closed
	// port (Go's proxy lookup never proxies loopback addresses).
	env := []string{"COSIGN_PASSWORD=Correct-Horse-Battery", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=", "KUBECONFIG=" + filepath.Join(work, "no-kubeconfig")}

	must := func(r cmdResult) string {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	must(runEnv(t, work, env, "", bin, "generate-key-pair"))
	must(runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", "other"))
	repo := reg.Host + "/web/site"
	// Defaults on both sides: assetpack signs a Sigstore bundle, and the
	// Kyverno policy checks bundles.
	signed := must(runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push", "--sign", "--key", "cosign.key"))
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>unsigned</h1>"), 0o644)
	unsigned := must(runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":unsigned", "--push"))
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>other key</h1>"), 0o644)
	otherKey := must(runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":other", "--push", "--sign", "--key", "other.key"))

	must(runEnv(t, work, env, "", bin, "policy", "--image", reg.Host+"/web/*", "--key", "cosign.pub", "-o", "policy.yaml"))
	must(runEnv(t, work, env, "", bin, "policy", "--image", reg.Host+"/web/*", "--key", "cosign.pub", "--action", "Audit", "-o", "audit.yaml"))

	write := func(name, body string) string {
		os.WriteFile(filepath.Join(work, name), []byte(body), 0o644)
		return name
	}
	for _, kind := range []string{"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"} {
		t.Run(kind, func(t *testing.T) {
			name := strings.ToLower(kind)
			ok := kyvernoApply(t, work, env, "policy.yaml", "--resource", write(name+"-signed.yaml", workloadYAML(kind, "signed", signed)))
			if !ok.passed() {
				t.Errorf("signed image volume: %v", ok)
			}
			bad := kyvernoApply(t, work, env, "policy.yaml", "--resource", write(name+"-unsigned.yaml", workloadYAML(kind, "unsigned", unsigned)))
			if !bad.failed("failed to verify image " + unsigned + ": .attestors[0].entries[0].keys: sigstore bundle verification failed: no matching signatures found") {
				t.Errorf("unsigned image volume: %v", bad)
			}
			other := kyvernoApply(t, work, env, "policy.yaml", "--resource", write(name+"-other-key.yaml", workloadYAML(kind, "other", otherKey)))
			if !other.failed("failed to verify image " + otherKey + ": .attestors[0].entries[0].keys: sigstore bundle verification failed: no matching signatures found") {
				t.Errorf("image volume signed by another key: %v", other)
			}
		})
	}

	// Keyless: Kyverno needs the public Sigstore trusted root (Fulcio roots,
	// Rekor and CT log keys) from its TUF mirror, which the closed proxy
	// refuses: the verification fails, and nothing left 127.0.0.1.
	must(runEnv(t, work, env, "", bin, "policy", "--image", reg.Host+"/web/*", "--certificate-identity", "ci@example.com",
		"--certificate-oidc-issuer", "https://accounts.example.com", "-o", "keyless.yaml"))
	if r := kyvernoApply(t, work, env, "keyless.yaml", "--resource", "pod-signed.yaml"); !r.failed("failed to get trusted material") || !strings.Contains(r.stdout, "proxyconnect") {
		t.Errorf("keyless without a route to the Sigstore root: %v", r)
	}

	// The policy checks image volumes only: an unsigned container image
	// beside a signed image volume passes, and a Pod without image volumes
	// has nothing to verify.
	pod := strings.Replace(workloadYAML("Pod", "container", signed), "registry.example.com/nginx:1.29", unsigned, 1)
	if r := kyvernoApply(t, work, env, "policy.yaml", "--resource", write("container.yaml", pod)); !r.passed() {
		t.Errorf("unsigned container image, signed volume: %v", r)
	}
	noVolume := strings.Replace(strings.Split(workloadYAML("Pod", "plain", signed), "volumes:")[0], "  volumeMounts:\n  - {name: assets, mountPath: /usr/share/nginx/html, readOnly: true}\n", "", 1)
	noVolume = strings.Replace(noVolume, "registry.example.com/nginx:1.29", unsigned, 1)
	if r := kyvernoApply(t, work, env, "policy.yaml", "--resource", write("plain.yaml", noVolume)); r.code != 0 || r.pass != 0 || r.fail != 0 || r.errors != 0 {
		t.Errorf("a Pod without image volumes: %v", r)
	}
	// Every Kyverno policy of the unit tests' golden files (key and keyless,
	// Audit, bundle, private logs) passes Kyverno's own policy validation,
	// which kyverno apply runs first; a Pod without image volumes leaves
	// nothing to verify, so nothing is fetched.
	goldens, _ := filepath.Glob("../policy/testdata/golden/kyverno-*.yaml")
	if len(goldens) < 4 {
		t.Fatalf("golden Kyverno policies: %v", goldens)
	}
	for _, g := range goldens {
		abs, _ := filepath.Abs(g)
		if r := kyvernoApply(t, work, env, abs, "--resource", "plain.yaml"); r.code != 0 || r.errors != 0 || r.fail != 0 {
			t.Errorf("%s: %v", filepath.Base(g), r)
		}
	}
	// The check bites: Audit with mutateDigest, which Kyverno refuses.
	audit, _ := os.ReadFile("../policy/testdata/golden/kyverno-key-audit-rekor.yaml")
	write("bad-audit.yaml", strings.Replace(string(audit), "mutateDigest: false", "mutateDigest: true", 1))
	if r := kyvernoApply(t, work, env, "bad-audit.yaml", "--resource", "plain.yaml"); r.code == 0 || r.errors == 0 {
		t.Errorf("Kyverno accepted mutateDigest with Audit: %v", r)
	}

	// Audit reports the unsigned volume as a warning and admits it.
	if r := kyvernoApply(t, work, env, "audit.yaml", "--resource", "pod-unsigned.yaml", "--audit-warn"); r.code != 0 || r.warn == 0 || r.fail != 0 || r.errors != 0 ||
		!strings.Contains(r.stdout, "sigstore bundle verification failed: no matching signatures found") {
		t.Errorf("audit: %v", r)
	}
	// A tag: Enforce verifies it and pins the verified digest (mutateDigest),
	// so the digest check that follows passes; Audit, which may not
	// mutate, reports the missing digest.
	write("pod-tag.yaml", workloadYAML("Pod", "tag", repo+":v1"))
	if r := kyvernoApply(t, work, env, "policy.yaml", "--resource", "pod-tag.yaml"); !r.passed() {
		t.Errorf("signed tag, Enforce: %v", r)
	}
	if r := kyvernoApply(t, work, env, "audit.yaml", "--resource", "pod-tag.yaml", "--audit-warn"); r.code != 0 || r.pass == 0 || r.warn == 0 ||
		!strings.Contains(r.stdout, "missing digest for "+repo+":v1") {
		t.Errorf("signed tag, Audit: %v", r)
	}

	// cosign v3's signature is a bundle too: the default policy accepts it.
	// A legacy policy accepts the legacy signature (assetpack's
	// --signature-format legacy, cosign v2's default) and no bundle; the
	// default policy refuses the legacy signature.
	t.Run("cosign-v3-and-legacy", func(t *testing.T) {
		cosign3 := cosignCLI(t, "v3.1.3")
		os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>cosign v3</h1>"), 0o644)
		v3 := must(runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v3", "--push"))
		must(runEnv(t, work, env, "", cosign3, "sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--use-signing-config=false", "--allow-insecure-registry", v3))
		write("pod-v3.yaml", workloadYAML("Pod", "v3", v3))
		if r := kyvernoApply(t, work, env, "policy.yaml", "--resource", "pod-v3.yaml"); !r.passed() {
			t.Errorf("default policy, cosign v3 signature: %v", r)
		}

		os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>legacy</h1>"), 0o644)
		legacy := must(runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":legacy", "--push", "--sign", "--key", "cosign.key", "--signature-format", "legacy"))
		write("pod-legacy.yaml", workloadYAML("Pod", "legacy", legacy))
		must(runEnv(t, work, env, "", bin, "policy", "--image", reg.Host+"/web/*", "--key", "cosign.pub", "--signature-format", "legacy", "-o", "legacy.yaml"))
		if r := kyvernoApply(t, work, env, "legacy.yaml", "--resource", "pod-legacy.yaml"); !r.passed() {
			t.Errorf("legacy policy, legacy signature: %v", r)
		}
		if r := kyvernoApply(t, work, env, "legacy.yaml", "--resource", "pod-v3.yaml"); !r.failed("no signatures found") {
			t.Errorf("legacy policy, cosign v3 signature: %v", r)
		}
		if r := kyvernoApply(t, work, env, "legacy.yaml", "--resource", "pod-signed.yaml"); !r.failed("no signatures found") {
			t.Errorf("legacy policy, assetpack's default signature: %v", r)
		}
		if r := kyvernoApply(t, work, env, "policy.yaml", "--resource", "pod-legacy.yaml"); !r.failed("sigstore bundle verification failed") {
			t.Errorf("default policy, legacy signature: %v", r)
		}
	})
}
