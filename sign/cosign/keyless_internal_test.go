package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/assetpack/assetpack/internal/testsigstore"
)

// idToken is an unverified identity token with claims.
func idToken(t *testing.T, claims map[string]any) string { return testsigstore.IDToken(t, claims) }

// fakeFulcio answers POST /api/v1/signingCert as Fulcio does: it checks the
// bearer token and the proof of possession (the subject signed by the key
// to certify) and returns a certificate for that key, then the CA's.
func fakeFulcio(t *testing.T, token, subject string) *httptest.Server {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake fulcio"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/signingCert" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
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
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := v.VerifySignature(bytes.NewReader(cr.SignedEmailAddress), strings.NewReader(subject)); err != nil {
			http.Error(w, "proof of possession: "+err.Error(), http.StatusBadRequest)
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), EmailAddresses: []string{subject},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(10 * time.Minute), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, pub, caKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestKeylessCertificate(t *testing.T) {
	ctx := context.Background()
	tok := idToken(t, map[string]any{"iss": "https://issuer.example", "sub": "123", "email": "dev@example.com", "email_verified": true})
	srv := fakeFulcio(t, tok, "dev@example.com")

	s, err := NewKeylessSigner(ctx, KeylessOptions{IDToken: tok, FulcioURL: srv.URL, RekorURL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatalf("NewKeylessSigner: %v", err)
	}
	block, rest := pem.Decode(s.cert)
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("cert = %q, want one PEM certificate", s.cert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.sv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := cryptoutils.EqualKeys(cert.PublicKey, pub); err != nil {
		t.Errorf("certificate is not for the signing key: %v", err)
	}
	if !bytes.Contains(s.chain, []byte("CERTIFICATE")) {
		t.Errorf("chain = %q, want the CA certificate", s.chain)
	}
	if m, _ := s.verificationMaterial(); !bytes.Equal(m, s.cert) {
		t.Error("verification material is not the certificate")
	}
	if !s.o.tlogUpload || s.o.rekorURL != "http://127.0.0.1:9" {
		t.Errorf("keyless signer does not upload to Rekor: %+v", s.o)
	}

	// Fulcio refuses (wrong token): the error names Fulcio, not the token.
	other := idToken(t, map[string]any{"sub": "123", "email": "dev@example.com", "email_verified": true})
	if _, err := NewKeylessSigner(ctx, KeylessOptions{IDToken: other, FulcioURL: srv.URL}); err == nil ||
		!strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), other) {
		t.Errorf("refused token: err = %v", err)
	}
	// An unverified email is not an identity to certify.
	unverified := idToken(t, map[string]any{"sub": "123", "email": "dev@example.com", "email_verified": false})
	if _, err := NewKeylessSigner(ctx, KeylessOptions{IDToken: unverified, FulcioURL: srv.URL}); err == nil ||
		!strings.Contains(err.Error(), "identity token") {
		t.Errorf("unverified email: err = %v", err)
	}
	if _, err := NewKeylessSigner(ctx, KeylessOptions{IDToken: "not-a-jwt", FulcioURL: srv.URL}); err == nil ||
		!strings.Contains(err.Error(), "identity token") {
		t.Errorf("malformed token: err = %v", err)
	}
}
