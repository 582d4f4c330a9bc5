//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyBadSignatures: on the real registry (tag schema), each bad
// input makes verify exit 1 with a message about the signature that names
// the image and where it looked: a bundle of another image, a tampered
// payload, another signer's key, a malformed referrers index (which sign
// and copy refuse to overwrite or carry), a referrer whose blob is gone,
// and a referrer whose listed artifactType lies.
func TestVerifyBadSignatures(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	runEnv(t, work, env, "", bin, "generate-key-pair")
	runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", "other")
	repo := reg.Host + "/web/bad"
	n := 0
	build := func(t *testing.T, extra ...string) (ref, digest string) {
		t.Helper()
		n++
		os.WriteFile(filepath.Join(src, "n.txt"), []byte(strings.Repeat("x", n)), 0o644)
		r := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", repo + ":v1", "--push"}, extra...)...)
		if r.code != 0 {
			t.Fatalf("build: exit %d: %s", r.code, r.stderr)
		}
		ref = strings.TrimSpace(r.stdout)
		return ref, ref[strings.Index(ref, "@")+1:]
	}
	verifyFails := func(t *testing.T, ref string, wants ...string) {
		t.Helper()
		r := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub")
		if r.code != 1 || strings.Contains(r.stderr, "signing key problem") {
			t.Errorf("verify: exit %d, want 1: %s", r.code, r.stderr)
		}
		for _, w := range append([]string{"no valid signature", ref}, wants...) {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("verify: %q does not say %q", r.stderr, w)
			}
		}
	}
	_, signedDigest := build(t, "--sign", "--key", "cosign.key")
	good := bundleOf(t, repo, signedDigest)

	t.Run("bundle of another image", func(t *testing.T) {
		ref, digest := build(t)
		attachRaw(t, repo, digest, bundleType, "", good)
		verifyFails(t, ref, "it signs another image", "the tag-schema index "+repo+":"+fallbackTag(digest))
		c3 := cosignCLI(t, "v3.1.3")
		root := filepath.Join(work, "empty.json")
		os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
		if r := runEnv(t, work, env, "", c3, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref); r.code == 0 {
			t.Error("cosign v3 accepted the bundle of another image too")
		}
	})
	t.Run("tampered payload", func(t *testing.T) {
		ref, digest := build(t)
		var b map[string]any
		json.Unmarshal(good, &b)
		st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.TrimPrefix(digest, "sha256:") + `"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`
		b["dsseEnvelope"].(map[string]any)["payload"] = base64.StdEncoding.EncodeToString([]byte(st))
		attachRaw(t, repo, digest, bundleType, "", []byte(mustJSON(b)))
		verifyFails(t, ref, "does not verify")
	})
	t.Run("another signer", func(t *testing.T) {
		ref, _ := build(t, "--sign", "--key", "other.key", "--signature-format", "both")
		verifyFails(t, ref, "has 2 signature(s), none valid", "does not verify with this key")
	})
	t.Run("malformed index", func(t *testing.T) {
		ref, digest := build(t)
		// The sha256-HEX tag holds an image, not an index.
		img, _ := getManifest(t, repo, digest)
		putManifest(t, repo, fallbackTag(digest), "application/vnd.oci.image.manifest.v1+json", img)
		verifyFails(t, ref, "the tag-schema index "+repo+":"+fallbackTag(digest), "want an OCI image index")
		if r := runEnv(t, work, env, "", bin, "sign", ref, "--key", "cosign.key"); r.code != 1 || !strings.Contains(r.stderr, "not overwriting it") {
			t.Errorf("sign over a malformed index: exit %d: %s", r.code, r.stderr)
		}
		if r := runEnv(t, work, env, "", bin, "copy", ref, reg.Host+"/prod/bad:v1"); r.code != 1 || !strings.Contains(r.stderr, "want an OCI image index") {
			t.Errorf("copy of an image with a malformed index: exit %d: %s", r.code, r.stderr)
		}
		if r := runEnv(t, work, env, "", bin, "inspect", ref); r.code != 1 || !strings.Contains(r.stderr, "want an OCI image index") {
			t.Errorf("inspect: exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("missing blob", func(t *testing.T) {
		ref, digest := build(t, "--sign", "--key", "cosign.key")
		idx := referrerIndex(t, repo, digest)
		raw, _ := getManifest(t, repo, idx[0].Digest)
		var m struct{ Layers []ociDesc }
		json.Unmarshal(raw, &m)
		deleteBlob(t, repo, m.Layers[0].Digest)
		verifyFails(t, ref, "referrer "+idx[0].Digest, "is missing from the registry", "tag-schema index")
	})
	t.Run("artifactType lies", func(t *testing.T) {
		ref, digest := build(t)
		d := attachRaw(t, repo, digest, "application/spdx+json", bundleType, []byte(`{"spdxVersion":"SPDX-2.3"}`))
		verifyFails(t, ref, "referrer "+d, `the list gives artifact type "`+bundleType+`", the manifest says "application/spdx+json"`)
	})
}
