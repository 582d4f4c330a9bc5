//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testsigstore"
)

// TestSignKeyless signs keylessly with the real binary (a certificate from
// a private Fulcio, a signed timestamp instead of a Rekor entry, the token
// from SIGSTORE_ID_TOKEN as GitLab CI passes it) and verifies the identity
// against that Sigstore's trusted_root.json; another identity, an
// untrusted root and an expired certificate each exit 1.
func TestSignKeyless(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	ss := testsigstore.New(t)
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	const who, issuer = "release@example.com", "https://gitlab.example.com"
	tok := testsigstore.IDToken(t, map[string]any{"iss": issuer, "sub": who, "email": who, "email_verified": true, "aud": "sigstore"})
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"), "SIGSTORE_ID_TOKEN=" + tok,
		"ACTIONS_ID_TOKEN_REQUEST_URL=", "BUILDKITE=", "BUILDKITE_AGENT_ACCESS_TOKEN="}
	keyless := []string{"--fulcio-url", ss.FulcioURL, "--tlog-upload=false", "--timestamp-server-url", ss.TSAURL}
	verify := func(ref string, extra ...string) cmdResult {
		return runEnv(t, work, env, "", bin, append([]string{"verify", ref, "--trusted-root", ss.TrustedRoot, "--insecure-ignore-sct"}, extra...)...)
	}

	b := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", reg.Host + "/web/keyless:v1", "--push", "--sign"}, keyless...)...)
	if b.code != 0 || !strings.Contains(b.stderr, "OIDC token from SIGSTORE_ID_TOKEN") {
		t.Fatalf("build --sign keyless: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	v := verify(ref, "--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--json")
	var rep struct {
		Verified   int
		Signatures []struct {
			Identity, Issuer string
			Timestamps       []struct{ Verified bool }
		}
	}
	if err := json.Unmarshal([]byte(v.stdout), &rep); v.code != 0 || err != nil || rep.Verified != 1 || rep.Signatures[0].Identity != who ||
		rep.Signatures[0].Issuer != issuer || len(rep.Signatures[0].Timestamps) != 1 || !rep.Signatures[0].Timestamps[0].Verified {
		t.Fatalf("keyless verify: exit %d: %s %s", v.code, v.stdout, v.stderr)
	}
	if r := verify(ref, "--certificate-identity-regexp", `@example\.com$`, "--certificate-oidc-issuer-regexp", `^https://gitlab\.`); r.code != 0 {
		t.Errorf("verify with regular expressions: exit %d: %s", r.code, r.stderr)
	}
	// cosign v3 reads the same bundle against the same root.
	c3 := runEnv(t, work, env, "", cosignCLI(t, "v3.1.3"), "verify", "--certificate-identity", who, "--certificate-oidc-issuer", issuer,
		"--trusted-root", ss.TrustedRoot, "--insecure-ignore-sct", "--insecure-ignore-tlog", "--use-signed-timestamps", "--allow-insecure-registry", ref)
	if c3.code != 0 {
		t.Errorf("cosign v3 verify of a keyless bundle: exit %d: %s", c3.code, c3.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"another identity", []string{"--certificate-identity", "intruder@example.com", "--certificate-oidc-issuer", issuer}, "failed to verify certificate identity"},
		{"another issuer", []string{"--certificate-identity", who, "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"}, "failed to verify certificate identity"},
		{"untrusted root", []string{"--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--trusted-root", testsigstore.New(t).TrustedRoot}, "not from a trusted timestamp authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(ref, tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, ref) {
				t.Errorf("verify: exit %d: %s; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}

	t.Run("expired certificate", func(t *testing.T) {
		ss.Expired.Store(true)
		defer ss.Expired.Store(false)
		os.WriteFile(filepath.Join(src, "expired.txt"), []byte("x"), 0o644)
		b := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", reg.Host + "/web/keyless:expired", "--push", "--sign"}, keyless...)...)
		if b.code != 0 {
			t.Fatalf("build: exit %d: %s", b.code, b.stderr)
		}
		r := verify(strings.TrimSpace(b.stdout), "--certificate-identity", who, "--certificate-oidc-issuer", issuer)
		if r.code != 1 || !strings.Contains(r.stderr, "its certificate was not valid when it signed") {
			t.Errorf("verify: exit %d: %s", r.code, r.stderr)
		}
	})

	// Without a token anywhere: exit 2, naming what was looked for.
	none := runEnv(t, work, append(env, "SIGSTORE_ID_TOKEN="), "", bin, "sign", ref)
	if none.code != 2 || !strings.Contains(none.stderr, "looked for SIGSTORE_ID_TOKEN") || !strings.Contains(none.stderr, "--identity-token") {
		t.Errorf("keyless without a token: exit %d: %s", none.code, none.stderr)
	}
}
