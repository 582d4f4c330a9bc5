//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cosignCLI returns the stock cosign CLI of one version, installed by
// hack/install-e2e-tools.sh into its own directory (v2 and v3 share the
// binary name, so neither is on PATH).
func cosignCLI(t *testing.T, version string) string {
	t.Helper()
	dir := os.Getenv("ASSETPACK_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "assetpack", "tools")
	}
	p := filepath.Join(dir, "cosign-"+version, "bin", "cosign")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("cosign %s is not installed at %s: run hack/install-e2e-tools.sh (make e2e does)", version, p)
	}
	return p
}

const filesType = "https://assetpack.dev/attestation/files/v1"

// TestCosignInterop: what assetpack signs, the stock cosign v2.6 and v3.1
// CLIs verify offline; what cosign signs, assetpack verifies; another key
// and a re-pushed tag are rejected.
func TestCosignInterop(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	const pass = "Correct-Horse-Battery"
	env := []string{"COSIGN_PASSWORD=" + pass, "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}

	gen := runEnv(t, work, env, "", bin, "generate-key-pair")
	if gen.code != 0 || strings.TrimSpace(gen.stdout) != "cosign.pub" {
		t.Fatalf("generate-key-pair: exit %d: %s %s", gen.code, gen.stdout, gen.stderr)
	}
	repo := reg.Host + "/web/site"
	b := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push", "--sign", "--key", "cosign.key", "--attest-files")
	if b.code != 0 {
		t.Fatalf("build --push --sign: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	for _, out := range []string{b.stdout, b.stderr} {
		if strings.Contains(out, pass) {
			t.Errorf("the key password leaked: %s", out)
		}
	}

	for _, v := range []string{"v2.6.5", "v3.1.3"} {
		t.Run("cosign "+v+" verifies assetpack", func(t *testing.T) {
			cosign := cosignCLI(t, v)
			common := []string{"--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot}
			r := runEnv(t, work, env, "", cosign, append([]string{"verify"}, append(common, ref)...)...)
			if r.code != 0 {
				t.Fatalf("cosign verify: exit %d: %s", r.code, r.stderr)
			}
			a := runEnv(t, work, env, "", cosign, append([]string{"verify-attestation", "--type", filesType}, append(common, ref)...)...)
			if a.code != 0 {
				t.Fatalf("cosign verify-attestation: exit %d: %s", a.code, a.stderr)
			}
			// The attestation lists the files of the source tree.
			var envelope struct{ Payload string }
			json.Unmarshal([]byte(strings.SplitN(a.stdout, "\n", 2)[0]), &envelope)
			if envelope.Payload == "" {
				t.Errorf("verify-attestation printed %q", a.stdout)
			}
			// Another key is rejected.
			other := filepath.Join(work, "other-"+v)
			runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", other)
			bad := runEnv(t, work, env, "", cosign, "verify", "--key", other+".pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot, ref)
			if bad.code == 0 {
				t.Errorf("cosign verify accepted another key")
			}
		})
	}

	// assetpack verify: the signature, the attestation, and tampering.
	ok := runEnv(t, work, env, "", bin, "verify", repo+":v1", "--key", "cosign.pub", "--insecure-ignore-tlog", "--attest-files")
	if ok.code != 0 || !strings.Contains(ok.stdout, `"fileCount"`) || !strings.Contains(ok.stderr, "1 valid signature") {
		t.Errorf("assetpack verify: exit %d: %s %s", ok.code, ok.stdout, ok.stderr)
	}
	runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", "other")
	wrongKey := runEnv(t, work, env, "", bin, "verify", ref, "--key", "other.pub", "--insecure-ignore-tlog")
	if wrongKey.code != 1 || !strings.Contains(wrongKey.stderr, "no signature matches") {
		t.Errorf("verify with another key: exit %d: %s", wrongKey.code, wrongKey.stderr)
	}
	// Someone re-pushes the tag with other content: verify follows the tag to an unsigned digest.
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>tampered</h1>"), 0o644)
	if r := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	moved := runEnv(t, work, env, "", bin, "verify", repo+":v1", "--key", "cosign.pub", "--insecure-ignore-tlog")
	if moved.code != 1 || !strings.Contains(moved.stderr, "not signed") {
		t.Errorf("verify of a re-pushed tag: exit %d: %s", moved.code, moved.stderr)
	}
	// The original digest still verifies.
	if r := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--insecure-ignore-tlog"); r.code != 0 {
		t.Errorf("verify of the signed digest: exit %d: %s", r.code, r.stderr)
	}

	// The reverse: cosign v2 signs with its own key, assetpack verifies.
	cosign2 := cosignCLI(t, "v2.6.5")
	keyDir := filepath.Join(work, "cosign-keys")
	os.MkdirAll(keyDir, 0o755)
	if r := runEnv(t, keyDir, env, "", cosign2, "generate-key-pair"); r.code != 0 {
		t.Fatalf("cosign generate-key-pair: %s", r.stderr)
	}
	other := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", reg.Host+"/web/by-cosign:v1", "--push")
	otherRef := strings.TrimSpace(other.stdout)
	if r := runEnv(t, work, env, "", cosign2, "sign", "--yes", "--key", filepath.Join(keyDir, "cosign.key"), "--tlog-upload=false", "--allow-insecure-registry", otherRef); r.code != 0 {
		t.Fatalf("cosign sign: exit %d: %s", r.code, r.stderr)
	}
	if r := runEnv(t, work, env, "", bin, "verify", otherRef, "--key", filepath.Join(keyDir, "cosign.pub"), "--insecure-ignore-tlog"); r.code != 0 {
		t.Errorf("assetpack verify of a cosign signature: exit %d: %s", r.code, r.stderr)
	}
	// And an assetpack-generated key signs with cosign: the key formats match.
	if r := runEnv(t, work, env, "", cosign2, "sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--allow-insecure-registry", otherRef); r.code != 0 {
		t.Errorf("cosign sign with an assetpack key: exit %d: %s", r.code, r.stderr)
	}
}
