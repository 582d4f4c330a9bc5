package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
)

func TestSignCommands(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	env := []string{"COSIGN_PASSWORD=pa55-Word", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}

	g := assetpack(t, work, env, "generate-key-pair")
	if g.code != 0 || strings.TrimSpace(g.stdout) != "cosign.pub" {
		t.Fatalf("generate-key-pair: %d %s %s", g.code, g.stdout, g.stderr)
	}
	if again := assetpack(t, work, env, "generate-key-pair"); again.code != 2 || !strings.Contains(again.stderr, "pass --force to overwrite it or choose another --output-key-prefix") {
		t.Errorf("generate-key-pair over existing keys: %d %s", again.code, again.stderr)
	}
	if r := assetpack(t, work, []string{"COSIGN_PASSWORD"}, "generate-key-pair", "--output-key-prefix", "x"); r.code != 2 || !strings.Contains(r.stderr, "COSIGN_PASSWORD") {
		t.Errorf("no password and no terminal: %d %s", r.code, r.stderr)
	}

	b := assetpack(t, work, env, "build", "site", "--git=false", "--platform", "linux/amd64,linux/arm64", "-t", host+"/web/site:v1", "--push", "--sign", "--key", "cosign.key")
	if b.code != 0 {
		t.Fatalf("build --sign: %d %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	// The index and both platform manifests are signed.
	if n := strings.Count(b.stderr, "signed "+host); n != 3 {
		t.Errorf("signed %d digests, want 3 (index + 2 manifests): %s", n, b.stderr)
	}
	// The key alone verifies what sign wrote by default (no log entry).
	v := assetpack(t, work, env, "verify", host+"/web/site:v1", "--key", "cosign.pub")
	if v.code != 0 || strings.TrimSpace(v.stdout) != ref || !strings.Contains(v.stderr, "1 valid signature") || !strings.Contains(v.stderr, "bundle signature sha256:") {
		t.Errorf("verify: %d %q %s", v.code, v.stdout, v.stderr)
	}

	// sign resolves a tag once and prints the digest it signed.
	u := assetpack(t, work, env, "build", "site", "--git=false", "-t", host+"/web/other:v1", "--push")
	s := assetpack(t, work, env, "sign", host+"/web/other:v1", "--key", "cosign.key", "--attest-files")
	if s.code != 0 || strings.TrimSpace(s.stdout) != strings.TrimSpace(u.stdout) || !strings.Contains(s.stderr, "resolved") {
		t.Errorf("sign of a tag: %d %q %s", s.code, s.stdout, s.stderr)
	}
	if !strings.Contains(s.stderr, "note: --attest-files is deprecated") || !strings.Contains(s.stderr, "attested its SPDX SBOM: statement sha256:") {
		t.Errorf("sign --attest-files: %s", s.stderr)
	}
	att := assetpack(t, work, env, "verify", strings.TrimSpace(u.stdout), "--key", "cosign.pub", "--attest-files")
	if att.code != 0 || !strings.Contains(att.stdout, `"fileName":"./index.html"`) || !strings.Contains(att.stderr, "note: --attest-files is deprecated") {
		t.Errorf("verify --attest-files: %d %s %s", att.code, att.stdout, att.stderr)
	}
	// verify lists the attestations; --sbom prints the SBOM,
	// --attestation-type takes cosign's names.
	sb := assetpack(t, work, env, "verify", strings.TrimSpace(u.stdout), "--key", "cosign.pub", "--sbom")
	if sb.code != 0 || !strings.HasPrefix(sb.stdout, `{"SPDXID":"SPDXRef-DOCUMENT"`) || !strings.Contains(sb.stderr, "bundle attestation (SPDX SBOM) sha256:") ||
		!strings.Contains(sb.stderr, "verified the SPDX SBOM attestation of") {
		t.Errorf("verify --sbom: %d %s %s", sb.code, sb.stdout, sb.stderr)
	}
	if r := assetpack(t, work, env, "verify", ref, "--key", "cosign.pub", "--attestation-type", "slsaprovenance1"); r.code != 0 || !strings.Contains(r.stdout, `"buildType":"https://assetpack.dev/build/v1"`) {
		t.Errorf("verify --attestation-type slsaprovenance1: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := assetpack(t, work, env, "verify", strings.TrimSpace(u.stdout), "--key", "cosign.pub", "--attestation-type", "slsaprovenance1"); r.code != 1 || !strings.Contains(r.stderr, "assetpack: no valid attestation: ") ||
		!strings.Contains(r.stderr, "has no valid https://slsa.dev/provenance/v1 attestation") || !strings.Contains(r.stderr, "'assetpack build --push --sign' attaches a provenance") {
		t.Errorf("verify --attestation-type slsaprovenance1 of an image signed without one: %d %s", r.code, r.stderr)
	}

	for _, tc := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{[]string{"COSIGN_PASSWORD=Wrong-One-77"}, []string{"sign", ref, "--key", "cosign.key"}, 2, "the password does not open it"},
		{nil, []string{"sign", ref, "--key", "missing.key"}, 2, `key file "missing.key": file does not exist; create one with 'assetpack generate-key-pair'`},
		{nil, []string{"sign", ref, "--key", "cosign.pub"}, 2, "is not a cosign private key"},
		{nil, []string{"sign", ref, "--key", "gcpkms2://x"}, 2, "unsupported key scheme"},
		{[]string{"SIGSTORE_ID_TOKEN=", "ACTIONS_ID_TOKEN_REQUEST_URL=", "BUILDKITE=", "BUILDKITE_AGENT_ACCESS_TOKEN="}, []string{"sign", ref}, 2, "looked for SIGSTORE_ID_TOKEN"},
		{nil, []string{"sign", ref, "--key", "cosign.key", "--signature-format", "v9"}, 2, `--signature-format "v9": want bundle, legacy or both`},
		{nil, []string{"build", "site", "--sign", "--key", "cosign.key"}, 2, "add -t REPO:TAG --push"},
		{nil, []string{"verify", ref, "--key", "cosign.pub", "--require-tlog", "--insecure-ignore-tlog"}, 2, "--require-tlog and --insecure-ignore-tlog contradict each other"},
		{nil, []string{"verify", ref, "--key", "cosign.key"}, 2, "loading the public key"},
		{nil, []string{"verify", strings.TrimSpace(u.stdout) + "x"}, 2, "invalid reference"},
		{nil, []string{"verify", ref, "--key", "cosign.pub", "--attestation-type", "sbom"}, 2, `--attestation-type "sbom": want spdxjson, cyclonedx, slsaprovenance1`},
		{nil, []string{"verify", ref, "--key", "cosign.pub", "--sbom", "--attestation-type", "spdxjson"}, 2, "give one of them"},
		{nil, []string{"sign", ref, "--key", "cosign.key", "--sbom-format", "swid"}, 2, `--sbom-format "swid": want spdx or cyclonedx`},
		{nil, []string{"build", "site", "--sbom"}, 2, "add -t REPO:TAG --push"},
	} {
		r := assetpack(t, work, append(append([]string{}, env...), tc.env...), tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "Wrong-One-77") || strings.Contains(r.stderr, "pa55-Word") {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	// A wrong password fails before anything is built or pushed.
	r := assetpack(t, work, append(env, "COSIGN_PASSWORD=Wrong-One-77"), "build", "site", "--git=false", "-t", host+"/web/never:v1", "--push", "--sign", "--key", "cosign.key")
	if r.code != 2 {
		t.Errorf("build --sign with a wrong password: %d %s", r.code, r.stderr)
	}
	if p := assetpack(t, work, nil, "patch", host+"/web/never:v1", "--format", "pod", "--mount-path", "/x"); p.code == 0 {
		t.Error("the image was pushed although the key could not be opened")
	}
	os.Chmod(filepath.Join(work, "cosign.key"), 0o644)
	w := assetpack(t, work, env, "sign", ref, "--key", "cosign.key")
	if w.code != 0 || !strings.Contains(w.stderr, "readable by others") {
		t.Errorf("world-readable key: %d %s", w.code, w.stderr)
	}
}
