package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policyKey is a cosign public key (ECDSA P-256), as cosign.pub holds it.
const policyKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDBsOjmypmuMXRTaqvFjKNcgdXhT1
L5drw1dExS/Hn5LKAcWOhMz2CLoNtelEGMDCp00un1u8RGenNIe3D8lNZw==
-----END PUBLIC KEY-----
`

func TestPolicy(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "cosign.pub"), []byte(policyKey), 0o644)

	// Kyverno by default, on stdout; nothing on stderr.
	r := assetpack(t, work, nil, "policy", "--image", "registry.example.com/web/*", "--key", "cosign.pub")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden, err := os.ReadFile("../../policy/testdata/golden/kyverno-key.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(golden) {
		t.Errorf("stdout differs from policy/testdata/golden/kyverno-key.yaml:\n%s", r.stdout)
	}

	// policy-controller to a file: the warning about image volumes on stderr.
	r = assetpack(t, work, nil, "policy", "--format", "policy-controller", "--image", "ghcr.io/acme/**",
		"--certificate-identity-regexp", `^https://github\.com/acme/`, "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
		"--signature-format", "bundle", "--insecure-ignore-sct", "-o", "cip.yaml")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d: stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: the sigstore policy-controller checks image volumes only in builds that include sigstore/policy-controller#1976") ||
		!strings.Contains(r.stderr, "wrote cip.yaml (ClusterImagePolicy)") {
		t.Errorf("stderr: %s", r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(work, "cip.yaml"))
	golden, _ = os.ReadFile("../../policy/testdata/golden/policy-controller-keyless-regexp-bundle.yaml")
	if string(got) != string(golden) {
		t.Errorf("cip.yaml differs from the golden file:\n%s", got)
	}

	// Audit, a name, a private log.
	os.WriteFile(filepath.Join(work, "log.pub"), []byte(policyKey), 0o644)
	r = assetpack(t, work, nil, "policy", "--image", "registry.example.com/web/*", "--key", "cosign.pub", "--action", "audit",
		"--name", "web-assets-audit", "--rekor-url", "https://rekor.internal.example.com", "--rekor-public-key", "log.pub")
	for _, want := range []string{"name: web-assets-audit", "failureAction: Audit", "mutateDigest: false", "url: https://rekor.internal.example.com", "pubkey: |", "type: Cosign"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, want %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	// A signer the controller cannot check bundles from: the default is
	// legacy, and stderr says how to sign for it, naming the flag.
	legacyWarning := "warning: this policy accepts legacy signatures (the sha256-<hex>.sig tag), not the Sigstore bundles that assetpack and cosign v3 sign with by default, because "
	if !strings.Contains(r.stderr, legacyWarning+"Kyverno checks Sigstore bundles against the public Sigstore trust root only, not a private Rekor log: sign the images with assetpack sign --signature-format both (or legacy)") {
		t.Errorf("private log, stderr: %s", r.stderr)
	}
	r = assetpack(t, work, nil, "policy", "--format", "policy-controller", "--image", "registry.example.com/web/**", "--key", "cosign.pub")
	if r.code != 0 || strings.Contains(r.stdout, "signatureFormat") || !strings.Contains(r.stdout, "key:") ||
		!strings.Contains(r.stderr, legacyWarning+"the policy-controller checks Sigstore bundles only for keyless authorities, not for a public key: sign the images with assetpack sign --signature-format both (or legacy)") {
		t.Errorf("policy-controller with a key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Asked for explicitly, legacy gets no warning.
	r = assetpack(t, work, nil, "policy", "--image", "registry.example.com/web/*", "--key", "cosign.pub", "--signature-format", "legacy")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "type: Cosign") {
		t.Errorf("explicit legacy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestPolicyErrors: bad input exits 2 with a message that names the flag,
// and writes nothing.
func TestPolicyErrors(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "cosign.pub"), []byte(policyKey), 0o644)
	os.WriteFile(filepath.Join(work, "cosign.key"), []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(filepath.Join(work, "notes.txt"), []byte("the key is in the vault\n"), 0o644)
	os.WriteFile(filepath.Join(work, "empty.pub"), nil, 0o644)
	img := []string{"--image", "registry.example.com/web/*"}
	keyless := []string{"--certificate-identity", "ci@example.com", "--certificate-oidc-issuer", "https://accounts.example.com"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"--key", "cosign.pub"}, "--image is required"},
		{"key and identity", append(append([]string{"--key", "cosign.pub"}, img...), keyless...), "--key and --certificate-identity/--certificate-oidc-issuer both given"},
		{"neither", img, "no signer: pass --key cosign.pub, or --certificate-identity"},
		{"unreadable key", append([]string{"--key", "missing.pub"}, img...), `reading --key "missing.pub"`},
		{"key is a directory", append([]string{"--key", "."}, img...), `reading --key "."`},
		{"empty key", append([]string{"--key", "empty.pub"}, img...), `--key "empty.pub" is empty`},
		{"not PEM", append([]string{"--key", "notes.txt"}, img...), `--key "notes.txt": not PEM; expected a public key file`},
		{"private key", append([]string{"--key", "cosign.key"}, img...), `--key "cosign.key": a private key (ENCRYPTED SIGSTORE PRIVATE KEY)`},
		{"unknown format", append([]string{"--format", "gatekeeper", "--key", "cosign.pub"}, img...), `--format "gatekeeper": use kyverno or policy-controller`},
		{"bad action", append([]string{"--action", "warn", "--key", "cosign.pub"}, img...), `--action "warn": use Enforce or Audit`},
		{"bad signature format", append([]string{"--signature-format", "v3", "--key", "cosign.pub"}, img...), `--signature-format "v3": use bundle`},
		{"bad pattern", []string{"--format", "policy-controller", "--image", "registry.example.com/web/[ab]", "--key", "cosign.pub"}, `--image "registry.example.com/web/[ab]": the policy-controller accepts only`},
		{"issuer missing", append([]string{"--certificate-identity", "ci@example.com"}, img...), "--certificate-oidc-issuer: missing; keyless verification needs the OIDC issuer"},
		{"bad regexp", append([]string{"--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "https://accounts.example.com"}, img...), `--certificate-identity-regexp "(": is not a regular expression`},
		{"controller key bundle", append([]string{"--format", "policy-controller", "--signature-format", "bundle", "--key", "cosign.pub"}, img...), `--signature-format "bundle": the policy-controller checks Sigstore bundles only for keyless authorities`},
		{"sct with key", append([]string{"--key", "cosign.pub", "--insecure-ignore-sct"}, img...), "are for keyless signatures"},
		{"log key without log", append([]string{"--key", "cosign.pub", "--rekor-public-key", "cosign.pub"}, img...), "--rekor-public-key needs --rekor-url"},
		{"argument", append([]string{"policy.yaml", "--key", "cosign.pub"}, img...), "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := assetpack(t, work, nil, append(append([]string{"policy"}, tc.args...), "-o", "out.yaml")...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
			if strings.Count(r.stderr, "assetpack: ") != 1 {
				t.Errorf("stderr %q: want the error once", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(work, "out.yaml")); err == nil {
				t.Errorf("out.yaml was written")
			}
		})
	}
}
