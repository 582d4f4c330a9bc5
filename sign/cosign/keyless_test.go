package cosign_test

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
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/sign/cosign"
)

// sigstore is a private Sigstore for keyless tests: a Fulcio (its v1
// signingCert API) and a timestamp authority on 127.0.0.1, made with
// sigstore-go's test CA helpers, and the trusted_root.json that trusts
// them. Certificates are issued for whoever the identity token names.
type sigstore struct {
	fulcio, tsa string
	rootFile    string
	// certStart is when issued certificates become valid (they last ten
	// minutes): in the past to issue expired ones.
	certStart time.Time
}

// pubOnly is a crypto.Signer that only knows its public key: what the CA
// helper needs to certify a key it does not hold.
type pubOnly struct{ pub crypto.PublicKey }

func (p pubOnly) Public() crypto.PublicKey { return p.pub }
func (pubOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no private key")
}

func newSigstore(t *testing.T) *sigstore {
	t.Helper()
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	fulcioCert, fulcioKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tsaInt, tsaIntKey, err := ca.GenerateTSAIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tsaKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tsaLeaf, err := ca.GenerateTSALeafCert(time.Now().Add(-5*time.Minute), tsaKey, tsaInt, tsaIntKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &sigstore{certStart: time.Now().Add(-time.Minute)}

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
		claims := tokenClaims(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		leaf, err := ca.GenerateLeafCert(claims["email"], claims["iss"], s.certStart, pubOnly{pub}, fulcioCert, fulcioKey)
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
	s.fulcio, s.tsa = fulcio.URL, tsa.URL
	s.rootFile = writeRoot(t, rootCert, fulcioCert, tsaInt, tsaLeaf)
	return s
}

// writeRoot writes a trusted_root.json trusting a Fulcio and a TSA.
func writeRoot(t *testing.T, rootCert, fulcioCert, tsaInt, tsaLeaf *x509.Certificate) string {
	t.Helper()
	start, end := time.Now().Add(-5*time.Hour), time.Now().Add(5*time.Hour)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{fulcioCert},
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: "https://fulcio.test"}},
		map[string]*root.TransparencyLog{},
		[]root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{Root: rootCert, Intermediates: []*x509.Certificate{tsaInt}, Leaf: tsaLeaf,
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: "https://tsa.test"}},
		map[string]*root.TransparencyLog{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenClaims reads a JWT's claims without checking it (Fulcio would).
func tokenClaims(tok string) map[string]string {
	parts := strings.Split(tok, ".")
	out := map[string]string{}
	if len(parts) < 2 {
		return out
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(raw, &m)
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// jwt is a compact JWS with claims, signed by a throwaway key.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "ES256", "typ": "JWT"}) + "." + enc(claims)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte(signing))
	r, sv, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestKeyless signs keylessly (a Fulcio certificate, a signed timestamp,
// no transparency log) and verifies the identity against a local trusted
// root; another identity or issuer, an untrusted CA and an expired
// certificate are each rejected.
func TestKeyless(t *testing.T) {
	f := newFixture(t, testregistry.WithReferrers())
	ss := newSigstore(t)
	const who, issuer = "release@example.com", "https://issuer.example"
	tok := jwt(t, map[string]any{"iss": issuer, "sub": who, "email": who, "email_verified": true})
	keyless := func(t *testing.T) *cosign.Signer {
		s, err := cosign.NewKeylessSigner(f.ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: ss.fulcio, NoTlog: true},
			cosign.WithRegistry(f.reg), cosign.WithTimestampAuthority(ss.tsa))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ref := pushed(t, f.host, "web/keyless", "<h1>keyless</h1>")
	if err := keyless(t).Sign(f.ctx, ref); err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	verifier := func(vo cosign.VerifyOptions) *cosign.Verifier {
		if vo.TrustedRoot == "" {
			vo.TrustedRoot = ss.rootFile
		}
		vo.IgnoreSCT = true // this Fulcio has no CT log
		return f.verifier(t, vo)
	}
	rep, err := verifier(cosign.VerifyOptions{Identity: who, Issuer: issuer}).Check(f.ctx, ref)
	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	s := rep.Signatures[0]
	if rep.Verified != 1 || s.Identity != who || s.Issuer != issuer || len(s.Timestamps) != 1 || !s.Timestamps[0].Verified || s.Found != cosign.FoundReferrersAPI {
		t.Errorf("report %+v", rep)
	}
	if _, err := verifier(cosign.VerifyOptions{IdentityRegexp: `@example\.com$`, IssuerRegexp: `^https://issuer\.`}).Check(f.ctx, ref); err != nil {
		t.Errorf("Check() with regular expressions = %v", err)
	}

	for _, tc := range []struct {
		name string
		vo   cosign.VerifyOptions
		want string
	}{
		{"another identity", cosign.VerifyOptions{Identity: "intruder@example.com", Issuer: issuer}, "failed to verify certificate identity"},
		{"another issuer", cosign.VerifyOptions{Identity: who, Issuer: "https://other.example"}, "failed to verify certificate identity"},
		{"untrusted CA", cosign.VerifyOptions{Identity: who, Issuer: issuer, TrustedRoot: newSigstore(t).rootFile}, "not from a trusted timestamp authority"},
		{"a timestamp instead of a log entry", cosign.VerifyOptions{Identity: who, Issuer: issuer}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier(tc.vo).Check(f.ctx, ref)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check() = %v", err)
				}
				return
			}
			if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want ErrNoSignature with %q", err, tc.want)
			}
		})
	}

	t.Run("expired certificate", func(t *testing.T) {
		ss.certStart = time.Now().Add(-time.Hour) // valid for ten minutes, fifty minutes ago
		defer func() { ss.certStart = time.Now().Add(-time.Minute) }()
		old := pushed(t, f.host, "web/keyless", "<h1>expired</h1>")
		if err := keyless(t).Sign(f.ctx, old); err != nil {
			t.Fatal(err)
		}
		_, err := verifier(cosign.VerifyOptions{Identity: who, Issuer: issuer}).Check(f.ctx, old)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "its certificate was not valid when it signed") {
			t.Errorf("Check() = %v", err)
		}
	})

	t.Run("no log and no timestamp", func(t *testing.T) {
		if _, err := cosign.NewKeylessSigner(f.ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: ss.fulcio, NoTlog: true}); !errors.Is(err, cosign.ErrInvalid) {
			t.Errorf("NewKeylessSigner() = %v, want ErrInvalid", err)
		}
	})
}
