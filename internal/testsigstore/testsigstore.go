// Package testsigstore starts a private Sigstore for keyless tests: a
// Fulcio (its v1 signingCert API), an RFC 3161 timestamp authority and a
// Rekor transparency log (its v1 REST API, see rekor.go) on 127.0.0.1, made
// with sigstore-go's test CA helpers (pkg/testing/ca) and rekor's own entry
// types and checkpoint signing, and the trusted_root.json that trusts them.
// Like testregistry, it is internal: only assetpack's own tests (unit and
// end-to-end) use it.
package testsigstore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
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

// Sigstore is a running private Sigstore.
type Sigstore struct {
	// FulcioURL, TSAURL and RekorURL are the services' base URLs (the TSA
	// answers any path).
	FulcioURL, TSAURL, RekorURL string
	// TrustedRoot is the path of a trusted_root.json that trusts this
	// Fulcio, TSA and Rekor (and no CT log).
	TrustedRoot string
	// RekorPublicKey is the Rekor log's public key (PEM), as
	// GET /api/v1/log/publicKey answers it.
	RekorPublicKey []byte
	// Expired makes Fulcio issue certificates that were valid for ten
	// minutes, fifty minutes ago.
	Expired atomic.Bool
	// ForeignSET makes Rekor sign the signed entry timestamps of its
	// answers with a key that is not the log's: a promise of inclusion
	// that the trusted root does not back.
	ForeignSET atomic.Bool
	// ForgedProof makes Rekor prove its entries' inclusion against a tree
	// head that does not hold them (a root hash the audit path does not
	// lead to), in a checkpoint signed by the log's own key.
	ForgedProof atomic.Bool
}

// publicOnly is a crypto.Signer that only knows its public key: what the CA
// helper needs to certify a key it does not hold.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no private key")
}

// New starts a Sigstore whose Fulcio certifies any key for the email and
// issuer ("iss") claims of the bearer token, without checking the token (a
// real Fulcio checks it). Everything stops when the test ends.
func New(t testing.TB) *Sigstore {
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
	s := &Sigstore{}
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
		claims := Claims(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		start := time.Now().Add(-time.Minute)
		if s.Expired.Load() {
			start = time.Now().Add(-time.Hour)
		}
		leaf, err := ca.GenerateLeafCert(claims["email"], claims["iss"], start, publicOnly{pub}, fulcioCert, fulcioKey)
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

	rekor := httptest.NewUnstartedServer(nil)
	rlog, rekorKey, err := newRekorLog(s, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rekor.Config.Handler = rlog
	rekor.Start()
	t.Cleanup(rekor.Close)
	rekorID, err := logID(rekorKey.Public())
	if err != nil {
		t.Fatal(err)
	}

	start, end := time.Now().Add(-5*time.Hour), time.Now().Add(5*time.Hour)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{fulcioCert},
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: fulcio.URL}},
		map[string]*root.TransparencyLog{},
		[]root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{Root: rootCert, Intermediates: []*x509.Certificate{tsaInt}, Leaf: tsaLeaf,
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: tsa.URL}},
		map[string]*root.TransparencyLog{hex.EncodeToString(rekorID): {BaseURL: rekor.URL, ID: rekorID, ValidityPeriodStart: start,
			HashFunc: crypto.SHA256, PublicKey: rekorKey.Public(), SignatureHashFunc: crypto.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s.FulcioURL, s.TSAURL, s.RekorURL, s.TrustedRoot = fulcio.URL, tsa.URL, rekor.URL, filepath.Join(t.TempDir(), "trusted_root.json")
	s.RekorPublicKey = rlog.pubPEM
	if err := os.WriteFile(s.TrustedRoot, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// IDToken is a compact JWS with the given claims, signed ES256 by a
// throwaway key: what a client reads (Fulcio would verify it).
func IDToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "ES256", "typ": "JWT"}) + "." + enc(claims)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Claims reads a JWT's string claims without checking it.
func Claims(tok string) map[string]string {
	out := map[string]string{}
	parts := strings.Split(tok, ".")
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
