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

// The signer identity of the keyless tests.
const keylessWho, keylessIssuer = "release@example.com", "https://gitlab.example.com"

// keylessSetup starts what the keyless tests sign against: Debian's
// registry, a private Sigstore (testsigstore), a source tree in a work
// directory, and the environment of the commands, whose OIDC token for
// keylessWho is in SIGSTORE_ID_TOKEN as GitLab CI passes it (the other
// ambient token sources emptied).
func keylessSetup(t *testing.T) (*registryServer, *testsigstore.Sigstore, string, string, []string) {
	t.Helper()
	reg := startRegistry(t, registryOpts{})
	ss := testsigstore.New(t)
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	tok := testsigstore.IDToken(t, map[string]any{"iss": keylessIssuer, "sub": keylessWho, "email": keylessWho, "email_verified": true, "aud": "sigstore"})
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"), "SIGSTORE_ID_TOKEN=" + tok,
		"ACTIONS_ID_TOKEN_REQUEST_URL=", "BUILDKITE=", "BUILDKITE_AGENT_ACCESS_TOKEN="}
	return reg, ss, work, src, env
}

// TestSignKeyless signs keylessly with the real binary (a certificate from
// a private Fulcio, a signed timestamp instead of a Rekor entry, the token
// from SIGSTORE_ID_TOKEN as GitLab CI passes it) and verifies the identity
// against that Sigstore's trusted_root.json; another identity, an
// untrusted root and an expired certificate each exit 1.
func TestSignKeyless(t *testing.T) {
	reg, ss, work, src, env := keylessSetup(t)
	const who, issuer = keylessWho, keylessIssuer
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

// TestSignKeylessTlog signs keylessly with the real binary and the default
// transparency-log upload: the certificate from a private Fulcio, the
// signatures and attestations recorded in that Sigstore's Rekor (an
// emulation of its v1 API, internal/testsigstore), no timestamp authority.
// assetpack verify and the stock cosign v3.1.3 CLI accept the bundle
// against that Sigstore's trusted_root.json without being told to skip the
// log; cosign v2.6.5 accepts the legacy signature the same way. A log that
// answers with a promise signed by another key, and another Sigstore's
// root, each make verify exit 1, and cosign refuse.
func TestSignKeylessTlog(t *testing.T) {
	reg, ss, work, src, env := keylessSetup(t)
	const who, issuer = keylessWho, keylessIssuer
	keyless := []string{"--fulcio-url", ss.FulcioURL, "--rekor-url", ss.RekorURL}
	identity := []string{"--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--trusted-root", ss.TrustedRoot, "--insecure-ignore-sct"}
	build := func(t *testing.T, tag string) string {
		t.Helper()
		os.WriteFile(filepath.Join(src, "tag.txt"), []byte(tag), 0o644)
		b := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", reg.Host + "/web/keyless-tlog:" + tag, "--push", "--sign"}, keyless...)...)
		if b.code != 0 || !strings.Contains(b.stderr, "signature recorded in "+ss.RekorURL) {
			t.Fatalf("build --sign keyless: exit %d: %s", b.code, b.stderr)
		}
		return strings.TrimSpace(b.stdout)
	}
	type entry struct {
		Verified bool
		LogIndex int64
	}
	type report struct {
		Verified   int
		Signatures []struct {
			Format, Identity, Issuer string
			Valid                    bool
			Tlog                     []entry
			Timestamps               []struct{}
		}
		Attestations []struct {
			PredicateType string
			Valid         bool
			Tlog          []entry
		}
	}
	cosign2, cosign3 := cosignCLI(t, "v2.6.5"), cosignCLI(t, "v3.1.3")
	cosignVerify := func(cosign string, args ...string) cmdResult {
		return runEnv(t, work, env, "", cosign, append(append(args, identity...), "--allow-insecure-registry")...)
	}

	ref := build(t, "v1")
	v := runEnv(t, work, env, "", bin, append(append([]string{"verify", ref}, identity...), "--json")...)
	var rep report
	if err := json.Unmarshal([]byte(v.stdout), &rep); v.code != 0 || err != nil || rep.Verified != 1 || len(rep.Signatures) != 1 {
		t.Fatalf("verify: exit %d: %s %s", v.code, v.stdout, v.stderr)
	}
	s := rep.Signatures[0]
	if s.Format != "bundle" || s.Identity != who || s.Issuer != issuer || len(s.Tlog) != 1 || !s.Tlog[0].Verified || len(s.Timestamps) != 0 {
		t.Errorf("signature %+v: want a bundle by %s with one verified log entry and no timestamp", s, who)
	}
	// The SBOM and the provenance are in the log too.
	indexes := map[int64]bool{s.Tlog[0].LogIndex: true}
	for _, a := range rep.Attestations {
		if !a.Valid || len(a.Tlog) != 1 || !a.Tlog[0].Verified || indexes[a.Tlog[0].LogIndex] {
			t.Errorf("attestation %+v: want valid with its own verified log entry", a)
		} else {
			indexes[a.Tlog[0].LogIndex] = true
		}
	}
	if len(rep.Attestations) != 2 {
		t.Errorf("attestations %+v, want the SBOM and the provenance", rep.Attestations)
	}
	if r := cosignVerify(cosign3, "verify", ref); r.code != 0 {
		t.Errorf("cosign v3 verify of a keyless bundle with a log entry: exit %d: %s", r.code, r.stderr)
	}
	if r := cosignVerify(cosign3, "verify-attestation", "--type", "spdxjson", ref); r.code != 0 {
		t.Errorf("cosign v3 verify-attestation of a keyless bundle with a log entry: exit %d: %s", r.code, r.stderr)
	}

	t.Run("legacy", func(t *testing.T) {
		// The same image signed again, in the legacy format: a .sig
		// signature whose log entry is in its bundle annotation.
		sg := runEnv(t, work, env, "", bin, append([]string{"sign", ref, "--signature-format", "legacy"}, keyless...)...)
		if sg.code != 0 {
			t.Fatalf("sign --signature-format legacy: exit %d: %s", sg.code, sg.stderr)
		}
		v := runEnv(t, work, env, "", bin, append(append([]string{"verify", ref}, identity...), "--json")...)
		var rep report
		if err := json.Unmarshal([]byte(v.stdout), &rep); v.code != 0 || err != nil || rep.Verified != 2 {
			t.Fatalf("verify: exit %d: %s %s", v.code, v.stdout, v.stderr)
		}
		for _, s := range rep.Signatures {
			if s.Format == "legacy" && (!s.Valid || s.Identity != who || len(s.Tlog) != 1 || !s.Tlog[0].Verified) {
				t.Errorf("legacy signature %+v: want valid, by %s, with one verified log entry", s, who)
			}
		}
		// cosign v2 reads the legacy tag: its log entry is checked offline
		// against the log key of the trusted root.
		if r := cosignVerify(cosign2, "verify", ref); r.code != 0 {
			t.Errorf("cosign v2 verify of a keyless legacy signature with a log entry: exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("a log that lies", func(t *testing.T) {
		ss.ForeignSET.Store(true)
		lie := build(t, "lie")
		ss.ForeignSET.Store(false)
		r := runEnv(t, work, env, "", bin, append([]string{"verify", lie}, identity...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "its transparency-log entry does not verify against the trusted root") || !strings.Contains(r.stderr, lie) {
			t.Errorf("verify: exit %d: %s; want 1: the log entry does not verify", r.code, r.stderr)
		}
		if c := cosignVerify(cosign3, "verify", lie); c.code == 0 {
			t.Errorf("cosign v3 verify accepted a log entry whose promise is signed by another key")
		}
	})

	t.Run("another Sigstore's root", func(t *testing.T) {
		other := testsigstore.New(t).TrustedRoot
		r := runEnv(t, work, env, "", bin, "verify", ref, "--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--trusted-root", other, "--insecure-ignore-sct")
		if r.code != 1 || !strings.Contains(r.stderr, ref) {
			t.Errorf("verify: exit %d: %s; want 1", r.code, r.stderr)
		}
		c := runEnv(t, work, env, "", cosign3, "verify", "--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--trusted-root", other,
			"--insecure-ignore-sct", "--allow-insecure-registry", ref)
		if c.code == 0 {
			t.Errorf("cosign v3 verify accepted another Sigstore's log and CA")
		}
	})
}
