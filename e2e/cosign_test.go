//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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

// TestCosignInterop: what assetpack signs (bundle, legacy or both
// formats), the stock cosign v2.6 and v3.1 CLIs verify offline; what
// cosign v2 and v3 sign, assetpack verifies with the key alone; the
// defaults agree (build --sign --key, then verify --key and nothing else);
// another key and a re-pushed tag are rejected with exit 1.
func TestCosignInterop(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	const pass = "Correct-Horse-Battery"
	env := []string{"COSIGN_PASSWORD=" + pass, "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	offline := []string{"--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot}

	gen := runEnv(t, work, env, "", bin, "generate-key-pair")
	if gen.code != 0 || strings.TrimSpace(gen.stdout) != "cosign.pub" {
		t.Fatalf("generate-key-pair: exit %d: %s %s", gen.code, gen.stdout, gen.stderr)
	}
	runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", "other")
	repo := reg.Host + "/web/site"
	build := func(t *testing.T, tag string, extra ...string) string {
		t.Helper()
		os.WriteFile(filepath.Join(src, "version.txt"), []byte(tag), 0o644)
		r := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", repo + ":" + tag, "--push"}, extra...)...)
		if r.code != 0 {
			t.Fatalf("build %v: exit %d: %s", extra, r.code, r.stderr)
		}
		for _, out := range []string{r.stdout, r.stderr} {
			if strings.Contains(out, pass) {
				t.Errorf("the key password leaked: %s", out)
			}
		}
		return strings.TrimSpace(r.stdout)
	}

	// The defaults agree: build --sign --key, then verify --key, nothing else.
	ref := build(t, "bundle", "--sign", "--key", "cosign.key")
	v := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub")
	if v.code != 0 || strings.TrimSpace(v.stdout) != ref || !strings.Contains(v.stderr, "1 valid signature") || !strings.Contains(v.stderr, "bundle signature") {
		t.Fatalf("verify --key after build --sign --key: exit %d: %s %s", v.code, v.stdout, v.stderr)
	}
	// Laid out as cosign v3 does on a registry without the referrers API:
	// the tag-schema index lists the bundles with their artifactType.
	digest := ref[strings.Index(ref, "@")+1:]
	for _, d := range referrerIndex(t, repo, digest) {
		if d.ArtifactType != bundleType || d.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("tag-schema entry %+v", d)
		}
	}
	// oras discovers them (it reads the tag schema too): the signature, the
	// SBOM and the provenance that --sign attaches.
	o := runEnv(t, work, env, "", tool(t, "oras"), "discover", "--plain-http", "--format", "json", ref)
	var disc struct {
		Referrers []struct {
			ArtifactType string
			Annotations  map[string]string
		}
	}
	if err := json.Unmarshal([]byte(o.stdout), &disc); o.code != 0 || err != nil || len(disc.Referrers) != 3 {
		t.Errorf("oras discover: exit %d %v: %s %s", o.code, err, o.stdout, o.stderr)
	}
	var types []string
	for _, r := range disc.Referrers {
		if r.ArtifactType != bundleType {
			t.Errorf("oras discover: artifactType %q", r.ArtifactType)
		}
		types = append(types, r.Annotations["dev.sigstore.bundle.predicateType"])
	}
	if !slices.Contains(types, "https://sigstore.dev/cosign/sign/v1") || !slices.Contains(types, "https://spdx.dev/Document") || !slices.Contains(types, "https://slsa.dev/provenance/v1") {
		t.Errorf("oras discover: predicate types %v", types)
	}
	legacyRef := build(t, "legacy", "--sign", "--key", "cosign.key", "--signature-format", "legacy")
	bothRef := build(t, "both", "--sign", "--key", "cosign.key", "--signature-format", "both")

	for _, ver := range []string{"v2.6.5", "v3.1.3"} {
		cosign := cosignCLI(t, ver)
		for _, tc := range []struct{ name, ref string }{{"bundle", ref}, {"legacy", legacyRef}, {"both", bothRef}} {
			t.Run("cosign "+ver+" verifies assetpack's "+tc.name, func(t *testing.T) {
				r := runEnv(t, work, env, "", cosign, append(append([]string{"verify", "--key", "cosign.pub"}, offline...), tc.ref)...)
				if r.code != 0 {
					t.Fatalf("cosign verify: exit %d: %s", r.code, r.stderr)
				}
				a := runEnv(t, work, env, "", cosign, append(append([]string{"verify-attestation", "--type", "spdxjson", "--key", "cosign.pub"}, offline...), tc.ref)...)
				if a.code != 0 {
					t.Fatalf("cosign verify-attestation: exit %d: %s", a.code, a.stderr)
				}
				var envelope struct{ Payload string }
				json.Unmarshal([]byte(strings.SplitN(a.stdout, "\n", 2)[0]), &envelope)
				if envelope.Payload == "" {
					t.Errorf("verify-attestation printed %q", a.stdout)
				}
				if bad := runEnv(t, work, env, "", cosign, append(append([]string{"verify", "--key", "other.pub"}, offline...), tc.ref)...); bad.code == 0 {
					t.Errorf("cosign verify accepted another key")
				}
			})
		}
	}

	// assetpack verify --json: both formats, where each was found.
	j := runEnv(t, work, env, "", bin, "verify", bothRef, "--key", "cosign.pub", "--json")
	var rep struct {
		Verified   int
		Signatures []struct{ Format, Found, Digest, Key string }
		Looked     []struct{ Found, Where string }
	}
	if err := json.Unmarshal([]byte(j.stdout), &rep); j.code != 0 || err != nil || rep.Verified != 2 || len(rep.Looked) != 2 {
		t.Fatalf("verify --json: exit %d %v: %s %s", j.code, err, j.stdout, j.stderr)
	}
	for _, s := range rep.Signatures {
		if !(s.Format == "bundle" && s.Found == "tag schema" || s.Format == "legacy" && s.Found == "legacy tag") || !strings.HasPrefix(s.Digest, "sha256:") || s.Key == "" {
			t.Errorf("signature %+v", s)
		}
	}
	att := runEnv(t, work, env, "", bin, "verify", legacyRef, "--key", "cosign.pub", "--sbom")
	if att.code != 0 || !strings.Contains(att.stdout, `"spdxVersion":"SPDX-2.3"`) {
		t.Errorf("verify --sbom of a legacy attestation: exit %d: %s %s", att.code, att.stdout, att.stderr)
	}

	// Another key: exit 1, about the signature, not a key problem.
	wrongKey := runEnv(t, work, env, "", bin, "verify", ref, "--key", "other.pub")
	if wrongKey.code != 1 || !strings.Contains(wrongKey.stderr, "does not verify with this key") || strings.Contains(wrongKey.stderr, "signing key problem") ||
		!strings.Contains(wrongKey.stderr, "the tag-schema index "+repo+":"+fallbackTag(digest)) || !strings.Contains(wrongKey.stderr, ".sig: no signature") {
		t.Errorf("verify with another key: exit %d: %s", wrongKey.code, wrongKey.stderr)
	}
	// A log entry required where there is none.
	if r := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--require-tlog", "--trusted-root", emptyRoot); r.code != 1 || !strings.Contains(r.stderr, "one is required") {
		t.Errorf("verify --require-tlog: exit %d: %s", r.code, r.stderr)
	}
	// Someone re-pushes the tag with other content: verify follows the tag
	// to an unsigned digest; the signed digest still verifies.
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>tampered</h1>"), 0o644)
	build(t, "bundle")
	moved := runEnv(t, work, env, "", bin, "verify", repo+":bundle", "--key", "cosign.pub")
	if moved.code != 1 || !strings.Contains(moved.stderr, "is not signed") {
		t.Errorf("verify of a re-pushed tag: exit %d: %s", moved.code, moved.stderr)
	}
	if r := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub"); r.code != 0 {
		t.Errorf("verify of the signed digest: exit %d: %s", r.code, r.stderr)
	}

	// The reverse: cosign signs with its own key, assetpack verifies with
	// the key alone.
	keyDir := filepath.Join(work, "cosign-keys")
	os.MkdirAll(keyDir, 0o755)
	cosign2, cosign3 := cosignCLI(t, "v2.6.5"), cosignCLI(t, "v3.1.3")
	if r := runEnv(t, keyDir, env, "", cosign2, "generate-key-pair"); r.code != 0 {
		t.Fatalf("cosign generate-key-pair: %s", r.stderr)
	}
	cosignKey, cosignPub := filepath.Join(keyDir, "cosign.key"), filepath.Join(keyDir, "cosign.pub")
	for _, tc := range []struct {
		name   string
		cosign string
		args   []string
		format string
	}{
		{"cosign v2 legacy", cosign2, nil, "legacy"},
		{"cosign v2 new bundle format", cosign2, []string{"--new-bundle-format"}, "bundle"},
		{"cosign v3 bundle", cosign3, []string{"--use-signing-config=false"}, "bundle"},
		{"cosign v3 legacy", cosign3, []string{"--use-signing-config=false", "--new-bundle-format=false"}, "legacy"},
	} {
		t.Run(tc.name+" verified by assetpack", func(t *testing.T) {
			r := build(t, strings.ReplaceAll(tc.name, " ", "-"))
			args := append([]string{"sign", "--yes", "--key", cosignKey, "--tlog-upload=false", "--allow-insecure-registry"}, tc.args...)
			if s := runEnv(t, work, env, "", tc.cosign, append(args, r)...); s.code != 0 {
				t.Fatalf("cosign sign: exit %d: %s", s.code, s.stderr)
			}
			v := runEnv(t, work, env, "", bin, "verify", r, "--key", cosignPub, "--json")
			var rep struct {
				Verified   int
				Signatures []struct{ Format string }
			}
			if err := json.Unmarshal([]byte(v.stdout), &rep); v.code != 0 || err != nil || rep.Verified != 1 || rep.Signatures[0].Format != tc.format {
				t.Errorf("assetpack verify: exit %d: %s %s", v.code, v.stdout, v.stderr)
			}
		})
	}

	// Both formats by the same key: assetpack's legacy signature and cosign
	// v3's bundle. Each verifies on its own (no false "invalid signature
	// when validating ASN.1 encoded signature").
	mixed := build(t, "mixed", "--sign", "--key", "cosign.key", "--signature-format", "legacy")
	if s := runEnv(t, work, env, "", cosign3, "sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--use-signing-config=false", "--allow-insecure-registry", mixed); s.code != 0 {
		t.Fatalf("cosign v3 sign: exit %d: %s", s.code, s.stderr)
	}
	m := runEnv(t, work, env, "", bin, "verify", mixed, "--key", "cosign.pub")
	if m.code != 0 || !strings.Contains(m.stderr, "2 valid signature(s)") || strings.Contains(m.stderr, "ASN.1") {
		t.Errorf("verify of legacy + v3 bundle by one key: exit %d: %s", m.code, m.stderr)
	}
	for _, c := range []string{cosign2, cosign3} {
		if r := runEnv(t, work, env, "", c, append(append([]string{"verify", "--key", "cosign.pub"}, offline...), mixed)...); r.code != 0 {
			t.Errorf("%s verify of legacy + v3 bundle: exit %d: %s", c, r.code, r.stderr)
		}
	}
	// And an assetpack-generated key signs with cosign: the key formats match.
	if r := runEnv(t, work, env, "", cosign2, "sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--allow-insecure-registry", mixed); r.code != 0 {
		t.Errorf("cosign sign with an assetpack key: exit %d: %s", r.code, r.stderr)
	}
}
