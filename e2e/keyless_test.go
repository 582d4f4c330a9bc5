//go:build e2e

package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// privateSigstore is a Fulcio (v1 signingCert API) and an RFC 3161
// timestamp authority on 127.0.0.1, made with sigstore-go's test CA, and
// the trusted_root.json that trusts them: keyless signing without the
// public-good services.
type privateSigstore struct {
	fulcio, tsa, rootFile string
	expired               atomic.Bool // issue certificates that expired before now
}

type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no private key")
}

func startSigstore(t *testing.T) *privateSigstore {
	t.Helper()
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	fulcioCert, fulcioKey, _ := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	tsaInt, tsaIntKey, _ := ca.GenerateTSAIntermediate(rootCert, rootKey)
	tsaKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tsaLeaf, err := ca.GenerateTSALeafCert(time.Now().Add(-5*time.Minute), tsaKey, tsaInt, tsaIntKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &privateSigstore{}
	fulcio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cr api.CertificateRequest
		if err := json.NewDecoder(r.Body).Decode(&cr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(cr.PublicKey.Content)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		claims := map[string]any{}
		if parts := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "."); len(parts) == 3 {
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			json.Unmarshal(raw, &claims)
		}
		start := time.Now().Add(-time.Minute)
		if s.expired.Load() {
			start = time.Now().Add(-time.Hour) // valid for ten minutes, fifty minutes ago
		}
		email, _ := claims["email"].(string)
		iss, _ := claims["iss"].(string)
		leaf, err := ca.GenerateLeafCert(email, iss, start, publicOnly{pub}, fulcioCert, fulcioKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
		for _, c := range []*x509.Certificate{leaf, fulcioCert, rootCert} {
			pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}))
	t.Cleanup(fulcio.Close)
	tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(),
			Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, Nonce: req.Nonce}
		resp, err := ts.CreateResponseWithOpts(tsaLeaf, tsaKey, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(tsa.Close)
	start, end := time.Now().Add(-5*time.Hour), time.Now().Add(5*time.Hour)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{fulcioCert},
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: fulcio.URL}},
		map[string]*root.TransparencyLog{},
		[]root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{Root: rootCert, Intermediates: []*x509.Certificate{tsaInt}, Leaf: tsaLeaf,
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: tsa.URL}},
		map[string]*root.TransparencyLog{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s.fulcio, s.tsa, s.rootFile = fulcio.URL, tsa.URL, filepath.Join(t.TempDir(), "trusted_root.json")
	os.WriteFile(s.rootFile, raw, 0o644)
	return s
}

// idToken is an unverified JWT with claims (Fulcio would verify it).
func idToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "ES256", "typ": "JWT"}) + "." + enc(claims)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte(signing))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestSignKeyless signs keylessly with the real binary (a certificate from
// a private Fulcio, a signed timestamp instead of a Rekor entry, the token
// from SIGSTORE_ID_TOKEN as GitLab CI passes it) and verifies the identity
// against that Sigstore's trusted_root.json; another identity, an
// untrusted root and an expired certificate each exit 1.
func TestSignKeyless(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	ss := startSigstore(t)
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	const who, issuer = "release@example.com", "https://gitlab.example.com"
	tok := idToken(t, map[string]any{"iss": issuer, "sub": who, "email": who, "email_verified": true, "aud": "sigstore"})
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"), "SIGSTORE_ID_TOKEN=" + tok,
		"ACTIONS_ID_TOKEN_REQUEST_URL=", "BUILDKITE=", "BUILDKITE_AGENT_ACCESS_TOKEN="}
	keyless := []string{"--fulcio-url", ss.fulcio, "--tlog-upload=false", "--timestamp-server-url", ss.tsa}
	verify := func(ref string, extra ...string) cmdResult {
		return runEnv(t, work, env, "", bin, append([]string{"verify", ref, "--trusted-root", ss.rootFile, "--insecure-ignore-sct"}, extra...)...)
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
		"--trusted-root", ss.rootFile, "--insecure-ignore-sct", "--insecure-ignore-tlog", "--use-signed-timestamps", "--allow-insecure-registry", ref)
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
		{"untrusted root", []string{"--certificate-identity", who, "--certificate-oidc-issuer", issuer, "--trusted-root", startSigstore(t).rootFile}, "not from a trusted timestamp authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(ref, tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, ref) {
				t.Errorf("verify: exit %d: %s; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}

	t.Run("expired certificate", func(t *testing.T) {
		ss.expired.Store(true)
		defer ss.expired.Store(false)
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
