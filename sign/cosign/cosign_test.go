package cosign_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign/cosign"
)

// pushed builds a small image and pushes it to an in-process registry.
func pushed(t *testing.T, host, repo string, body string) name.Digest {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644)
	res, err := builder.Build(context.Background(), dir, builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	tag, _ := name.NewTag(host + "/" + repo + ":v1")
	if err := remote.Write(tag, res.Image); err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(res.Digest.String())
}

func keyPair(t *testing.T, pass string) (priv, pub string) {
	t.Helper()
	priv, pub, err := cosign.GenerateKeyPair(filepath.Join(t.TempDir(), "cosign"), []byte(pass), false)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func passFn(p string) cosign.PassFunc { return func() ([]byte, error) { return []byte(p), nil } }

// signers is a key pair and the registry clients of one test.
type fixture struct {
	ctx      context.Context
	host     string
	reg      *publish.Registry
	priv     string
	pub      string
	password string
}

func newFixture(t *testing.T, opts ...testregistry.Option) *fixture {
	t.Helper()
	priv, pub := keyPair(t, "s3cret-Pass")
	reg, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: context.Background(), host: testregistry.New(t, opts...), reg: reg, priv: priv, pub: pub, password: "s3cret-Pass"}
}

func (f *fixture) signer(t *testing.T, opts ...cosign.Option) *cosign.Signer {
	t.Helper()
	s, err := cosign.NewKeySigner(f.ctx, f.priv, passFn(f.password), append([]cosign.Option{cosign.WithRegistry(f.reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) verifier(t *testing.T, vo cosign.VerifyOptions) *cosign.Verifier {
	t.Helper()
	v, err := cosign.NewVerifier(f.ctx, vo, cosign.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSignVerifyAttest signs in each format on a registry with and
// without the referrers API, and verifies with the key and no other
// option: a key-based signature needs no log entry.
func TestSignVerifyAttest(t *testing.T) {
	for _, reg := range []struct {
		name  string
		opts  []testregistry.Option
		found string
	}{
		{"tag schema", nil, cosign.FoundTagSchema},
		{"referrers API", []testregistry.Option{testregistry.WithReferrers()}, cosign.FoundReferrersAPI},
	} {
		for _, format := range []cosign.Format{cosign.Bundle, cosign.Legacy, cosign.Both} {
			t.Run(reg.name+"/"+string(format), func(t *testing.T) {
				f := newFixture(t, reg.opts...)
				ref := pushed(t, f.host, "web/site", "<h1>signed</h1>")
				signer := f.signer(t, cosign.WithFormat(format))
				if err := signer.Sign(f.ctx, ref); err != nil {
					t.Fatalf("Sign() = %v", err)
				}
				st := sbomStatement(t, ref)
				att, err := signer.AttestStatement(f.ctx, ref, "", st)
				if err != nil {
					t.Fatalf("AttestStatement() = %v", err)
				}
				sum := sha256.Sum256(st)
				if att.Subject != ref || att.PredicateType != attest.SPDXPredicateType || att.Statement.Hex != hex.EncodeToString(sum[:]) ||
					(att.Bundle != nil) != (format != cosign.Legacy) || (att.Legacy != nil) != (format != cosign.Bundle) {
					t.Errorf("AttestStatement() = %+v", att)
				}
				for _, d := range []*name.Digest{att.Bundle, att.Legacy} {
					if d == nil {
						continue
					}
					if _, err := remote.Head(*d); err != nil {
						t.Errorf("the attestation's manifest %s: %v", d, err)
					}
				}
				// Attest makes the statement itself, for any predicate.
				if err := signer.Attest(f.ctx, ref, "https://example.com/custom/v1", map[string]any{"n": 1}); err != nil {
					t.Fatalf("Attest() = %v", err)
				}
				_, legacyErr := remote.Head(ref.Context().Tag("sha256-" + strings.TrimPrefix(ref.DigestStr(), "sha256:") + ".sig"))
				if (legacyErr == nil) != (format != cosign.Bundle) {
					t.Errorf("legacy .sig tag present: %v, format %s", legacyErr == nil, format)
				}

				v := f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub})
				rep, err := v.Check(f.ctx, ref)
				if err != nil {
					t.Fatalf("Check() = %v", err)
				}
				want := map[cosign.Format]int{cosign.Bundle: 1, cosign.Legacy: 1, cosign.Both: 2}[format]
				if rep.Verified != want || len(rep.Signatures) != want {
					t.Fatalf("report = %+v, want %d valid signatures", rep, want)
				}
				for _, s := range rep.Signatures {
					wantFound := reg.found
					if s.Format == cosign.Legacy {
						wantFound = cosign.FoundLegacyTag
					}
					if !s.Valid || s.Found != wantFound || s.Key == "" || s.Error != "" || !strings.HasPrefix(s.Digest, "sha256:") {
						t.Errorf("signature %+v", s)
					}
				}
				if len(rep.Looked) != 2 {
					t.Errorf("looked in %+v, want the referrers and the legacy tag", rep.Looked)
				}
				pred, err := v.VerifyAttestation(f.ctx, ref, attest.SPDXPredicateType)
				if err != nil {
					t.Fatalf("VerifyAttestation() = %v", err)
				}
				var got struct{ Files []struct{ FileName string } }
				if err := json.Unmarshal(pred, &got); err != nil || len(got.Files) != 1 || got.Files[0].FileName != "./index.html" {
					t.Errorf("predicate = %s (%v)", pred, err)
				}
				if pred, err := v.VerifyAttestation(f.ctx, ref, "https://example.com/custom/v1"); err != nil || string(pred) != `{"n":1}` {
					t.Errorf("VerifyAttestation(custom) = %s, %v", pred, err)
				}
				// CheckAttestations lists both statements in each format
				// written, valid, by predicate type; not the signatures.
				if err := v.CheckAttestations(f.ctx, ref, rep); err != nil {
					t.Fatalf("CheckAttestations() = %v", err)
				}
				var types []string
				for _, a := range rep.Attestations {
					if !a.Valid || a.Error != "" || !strings.HasPrefix(a.Digest, "sha256:") {
						t.Errorf("attestation %+v", a)
					}
					types = append(types, string(a.Format)+" "+a.PredicateType)
				}
				slices.Sort(types)
				var wantTypes []string
				for _, ff := range []cosign.Format{cosign.Bundle, cosign.Legacy} {
					if format == ff || format == cosign.Both {
						wantTypes = append(wantTypes, string(ff)+" "+attest.SPDXPredicateType, string(ff)+" https://example.com/custom/v1")
					}
				}
				slices.Sort(wantTypes)
				if !slices.Equal(types, wantTypes) {
					t.Errorf("attestations %v, want %v", types, wantTypes)
				}
				// The attestation is not counted as a signature.
				if n, _ := v.VerifyCount(f.ctx, ref); n != want {
					t.Errorf("after attesting: %d signatures, want %d", n, want)
				}

				// Another key is rejected; an unsigned image is rejected;
				// both errors name the image and where they looked.
				_, otherPub := keyPair(t, "other")
				other := f.verifier(t, cosign.VerifyOptions{KeyRef: otherPub})
				otherRep := &cosign.Report{}
				if err := other.CheckAttestations(f.ctx, ref, otherRep); err != nil || len(otherRep.Attestations) != len(wantTypes) {
					t.Errorf("CheckAttestations with another key: %v, %+v", err, otherRep.Attestations)
				}
				for _, a := range otherRep.Attestations {
					if a.Valid || a.Error == "" || a.PredicateType == "" {
						t.Errorf("attestation checked with another key: %+v", a)
					}
				}
				_, err = other.Check(f.ctx, ref)
				if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), ref.String()) ||
					!strings.Contains(err.Error(), "none valid for this key or identity") || !strings.Contains(err.Error(), "does not verify") {
					t.Errorf("verify with another key: %v", err)
				}
				unsigned := pushed(t, f.host, "web/unsigned", "<h1>not signed</h1>")
				err = v.Verify(f.ctx, unsigned)
				if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), unsigned.String()+" is not signed") ||
					!strings.Contains(err.Error(), ".sig: no signature") || !strings.Contains(err.Error(), map[string]string{cosign.FoundTagSchema: "looked in the tag-schema index", cosign.FoundReferrersAPI: "looked in the referrers API (GET"}[reg.found]) {
					t.Errorf("verify unsigned: %v", err)
				}
				// A missing type: ErrNoAttestation (which is ErrNoSignature
				// too), naming the type and the .att tag with a reason.
				_, err = v.VerifyAttestation(f.ctx, ref, "https://example.com/other")
				if !errors.Is(err, cosign.ErrNoAttestation) || !errors.Is(err, cosign.ErrNoSignature) ||
					!strings.Contains(err.Error(), "has no valid https://example.com/other attestation") ||
					!strings.Contains(err.Error(), ".att: ") || strings.HasSuffix(strings.TrimSpace(err.Error()), ":") {
					t.Errorf("verify a missing attestation type: %v", err)
				}
			})
		}
	}
}

// sbomStatement is the SPDX SBOM statement of the image at ref.
func sbomStatement(t *testing.T, ref name.Digest) []byte {
	t.Helper()
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	ai, err := attest.ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	ai.Name = ref.Context().Name()
	sbom, err := attest.SBOM(ai, attest.SPDX)
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.Statement(ai.Name, ai.Digest, attest.SPDXPredicateType, sbom)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAttestStatementOfAnotherImage: a statement whose subject is another
// image is refused before anything is signed or written.
func TestAttestStatementOfAnotherImage(t *testing.T) {
	f := newFixture(t)
	ref := pushed(t, f.host, "web/site", "<h1>a</h1>")
	other := pushed(t, f.host, "web/site", "<h1>b</h1>")
	signer := f.signer(t, cosign.WithFormat(cosign.Both))
	_, err := signer.AttestStatement(f.ctx, ref, "", sbomStatement(t, other))
	if !errors.Is(err, cosign.ErrInvalid) || !strings.Contains(err.Error(), "is about "+other.DigestStr()+", not "+ref.String()) {
		t.Errorf("AttestStatement(another image's statement) = %v", err)
	}
	if _, err := signer.AttestStatement(f.ctx, ref, "", []byte(`{"predicateType":"x"}`)); !errors.Is(err, cosign.ErrInvalid) {
		t.Errorf("AttestStatement(not a statement) = %v", err)
	}
	if _, err := remote.Head(ref.Context().Tag("sha256-" + ref.DigestStr()[7:] + ".att")); err == nil {
		t.Error("a legacy .att tag was written")
	}
}

// TestBundleLayout: the signature referrer is laid out as cosign v3 lays
// it out.
func TestBundleLayout(t *testing.T) {
	f := newFixture(t)
	ref := pushed(t, f.host, "web/site", "<h1>layout</h1>")
	if err := f.signer(t).Sign(f.ctx, ref); err != nil {
		t.Fatal(err)
	}
	list, err := f.reg.Referrers(f.ctx, ref, cosign.BundleMediaType)
	if err != nil || len(list.Referrers) != 1 {
		t.Fatalf("Referrers() = %+v, %v", list, err)
	}
	fr, err := f.reg.FetchReferrer(f.ctx, ref, list.Referrers[0])
	if err != nil {
		t.Fatal(err)
	}
	m := fr.Manifest
	if m.ArtifactType != cosign.BundleMediaType || m.Config.MediaType != "application/vnd.oci.empty.v1+json" || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != cosign.BundleMediaType || m.Annotations["dev.sigstore.bundle.content"] != "dsse-envelope" ||
		m.Annotations["dev.sigstore.bundle.predicateType"] != cosign.SignPredicateType || m.Annotations["org.opencontainers.image.created"] == "" {
		t.Errorf("manifest %s", fr.Raw)
	}
	var b struct {
		MediaType            string
		VerificationMaterial struct{ PublicKey struct{ Hint string } }
		DsseEnvelope         struct {
			Payload     []byte
			PayloadType string
		}
	}
	if err := json.Unmarshal(fr.Layers[0], &b); err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.TrimPrefix(ref.DigestStr(), "sha256:") +
		`"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`
	if b.MediaType != cosign.BundleMediaType || b.DsseEnvelope.PayloadType != "application/vnd.in-toto+json" || string(b.DsseEnvelope.Payload) != want || b.VerificationMaterial.PublicKey.Hint == "" {
		t.Errorf("bundle %s", fr.Layers[0])
	}
}

// TestBadBundles: a bundle of another image, a tampered payload and a
// signature by another key are each reported, and nothing verifies.
func TestBadBundles(t *testing.T) {
	f := newFixture(t, testregistry.WithReferrers())
	v := f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub})
	signer := f.signer(t)
	bundleOf := func(ref name.Digest) []byte {
		t.Helper()
		list, err := f.reg.Referrers(f.ctx, ref, cosign.BundleMediaType)
		if err != nil || len(list.Referrers) == 0 {
			t.Fatalf("Referrers() = %+v, %v", list, err)
		}
		fr, err := f.reg.FetchReferrer(f.ctx, ref, list.Referrers[0])
		if err != nil {
			t.Fatal(err)
		}
		return fr.Layers[0]
	}
	attach := func(ref name.Digest, bundle []byte) {
		t.Helper()
		_, err := f.reg.Attach(f.ctx, ref, &publish.Referrer{ArtifactType: cosign.BundleMediaType,
			Layers:      []publish.Blob{{MediaType: cosign.BundleMediaType, Data: bundle}},
			Annotations: map[string]string{"dev.sigstore.bundle.predicateType": cosign.SignPredicateType}})
		if err != nil {
			t.Fatal(err)
		}
	}
	other := pushed(t, f.host, "web/site", "<h1>other</h1>")
	if err := signer.Sign(f.ctx, other); err != nil {
		t.Fatal(err)
	}
	good := bundleOf(other)

	t.Run("bundle of another image", func(t *testing.T) {
		ref := pushed(t, f.host, "web/site", "<h1>copied</h1>")
		attach(ref, good)
		rep, err := v.Check(f.ctx, ref)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "it signs another image") || rep == nil || len(rep.Signatures) != 1 {
			t.Errorf("Check() = %+v, %v", rep, err)
		}
	})
	t.Run("tampered payload", func(t *testing.T) {
		ref := pushed(t, f.host, "web/site", "<h1>tampered</h1>")
		var b map[string]any
		json.Unmarshal(good, &b)
		env := b["dsseEnvelope"].(map[string]any)
		// The statement now names ref, but the signature is of other's.
		st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.TrimPrefix(ref.DigestStr(), "sha256:") + `"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`
		env["payload"] = base64.StdEncoding.EncodeToString([]byte(st))
		tampered, _ := json.Marshal(b)
		attach(ref, tampered)
		_, err := v.Check(f.ctx, ref)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("Check() = %v", err)
		}
	})
	t.Run("not a bundle", func(t *testing.T) {
		ref := pushed(t, f.host, "web/site", "<h1>junk</h1>")
		attach(ref, []byte(`{"mediaType":"nothing"}`))
		_, err := v.Check(f.ctx, ref)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "not a Sigstore bundle") {
			t.Errorf("Check() = %v", err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		ref := pushed(t, f.host, "web/site", "<h1>other key</h1>")
		if err := signer.Sign(f.ctx, ref); err != nil {
			t.Fatal(err)
		}
		_, otherPub := keyPair(t, "x")
		_, err := f.verifier(t, cosign.VerifyOptions{KeyRef: otherPub}).Check(f.ctx, ref)
		if !errors.Is(err, cosign.ErrNoSignature) || errors.Is(err, cosign.ErrKey) || !strings.Contains(err.Error(), "does not verify with this key") {
			t.Errorf("Check() = %v", err)
		}
	})
	t.Run("required log entry", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "root.json")
		os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
		_, err := f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub, RequireTlog: true, TrustedRoot: root}).Check(f.ctx, other)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "no transparency-log entry, and one is required") {
			t.Errorf("Check() = %v", err)
		}
	})
}

// TestUnreachable: a registry that cannot be reached is not "no signature".
func TestUnreachable(t *testing.T) {
	f := newFixture(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	reg, _ := publish.NewRegistry(publish.WithRetryBackoff(remote.Backoff{Steps: 1}))
	v, err := cosign.NewVerifier(f.ctx, cosign.VerifyOptions{KeyRef: f.pub}, cosign.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewDigest(addr+"/web/site@sha256:"+strings.Repeat("a", 64), name.Insecure)
	err = v.Verify(f.ctx, ref)
	if err == nil || errors.Is(err, cosign.ErrNoSignature) || !errors.Is(err, publish.ErrUnreachable) {
		t.Errorf("Verify() = %v, want ErrUnreachable and not ErrNoSignature", err)
	}
}

func TestKeyErrors(t *testing.T) {
	ctx := context.Background()
	priv, pub := keyPair(t, "right-pass")
	junk := filepath.Join(t.TempDir(), "junk.key")
	os.WriteFile(junk, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), 0o600)
	keyBytes, _ := os.ReadFile(priv)
	for _, tc := range []struct {
		name, key string
		pass      cosign.PassFunc
		want      string
	}{
		{"wrong password", priv, passFn("Wrong-Pass-99"), "the password does not open it"},
		{"no password", priv, func() ([]byte, error) { return nil, errors.New("no password") }, ""},
		{"missing key", filepath.Join(t.TempDir(), "nope.key"), passFn("x"), "file does not exist; create one with GenerateKeyPair"},
		{"public key as private", pub, passFn("x"), "is not a cosign private key"},
		{"malformed key", junk, passFn("x"), "not a cosign private key"},
		{"unsupported scheme", "vault2kms://key", passFn("x"), "unsupported key scheme"},
		{"empty", "", passFn("x"), "no key given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cosign.NewKeySigner(ctx, tc.key, tc.pass)
			if !errors.Is(err, cosign.ErrKey) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrKey containing %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "Wrong-Pass-99") || strings.Contains(err.Error(), string(keyBytes[40:80]))) {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, _, err := cosign.GenerateKeyPair(strings.TrimSuffix(priv, ".key"), []byte("x"), false); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, fs.ErrExist) ||
		!strings.Contains(err.Error(), `key file "`+priv+`": file already exists; overwrite it with force, or choose another prefix`) || strings.Contains(err.Error(), "--") {
		t.Errorf("overwriting a key pair: %v", err)
	}
	// A key alone verifies: no trusted root, no log choice needed.
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub}); err != nil {
		t.Errorf("verify with a key alone: %v", err)
	}
	// Keyless without a trusted root file uses the public-good root
	// through TUF: here the cache is empty and the network unreachable.
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{Identity: "x", Issuer: "y", TUFCacheDir: t.TempDir(), TUFMirror: "http://127.0.0.1:9"}); errors.Is(err, cosign.ErrKey) || !errors.Is(err, cosign.ErrNoTrustedRoot) ||
		!strings.Contains(err.Error(), "give a trusted_root.json instead (TrustedRoot)") || strings.Contains(err.Error(), "--") {
		t.Errorf("keyless verify without trusted root: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{}); !errors.Is(err, cosign.ErrInvalid) || errors.Is(err, cosign.ErrKey) ||
		!strings.Contains(err.Error(), "(Identity or IdentityRegexp, and Issuer or IssuerRegexp)") || strings.Contains(err.Error(), "--") {
		t.Errorf("keyless verify without identity: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{IdentityRegexp: "(", Issuer: "y"}); !errors.Is(err, cosign.ErrInvalid) || !strings.Contains(err.Error(), `regular expression "("`) {
		t.Errorf("bad identity regexp: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub, TrustedRoot: filepath.Join(t.TempDir(), "none.json")}); !errors.Is(err, cosign.ErrInvalid) ||
		!strings.Contains(err.Error(), `reading trusted root "`) || strings.Contains(err.Error(), "--") {
		t.Errorf("missing trusted root: %v", err)
	}
	if _, err := cosign.NewKeySigner(ctx, priv, passFn("right-pass"), cosign.WithFormat("cosign")); !errors.Is(err, cosign.ErrInvalid) || !strings.Contains(err.Error(), `signature format "cosign": want bundle, legacy or both`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := cosign.NewKeylessSigner(ctx, cosign.KeylessOptions{}); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, cosign.ErrNoIDToken) ||
		!strings.Contains(err.Error(), "sign.DiscoverIDToken") || strings.Contains(err.Error(), "--") {
		t.Errorf("keyless without token: %v", err)
	}
	os.Chmod(priv, 0o644)
	if w := cosign.KeyFileWarning(priv); !strings.Contains(w, "readable by others") {
		t.Errorf("KeyFileWarning = %q", w)
	}
	os.Chmod(priv, 0o600)
	if w := cosign.KeyFileWarning(priv); w != "" {
		t.Errorf("KeyFileWarning(0600) = %q", w)
	}
}

// TestLegacyAttestationReplaced: in the legacy .att tag a new statement
// replaces the one of its predicate type and keeps the others.
func TestLegacyAttestationReplaced(t *testing.T) {
	f := newFixture(t)
	ref := pushed(t, f.host, "web/site", "<h1>a</h1>")
	signer := f.signer(t, cosign.WithFormat(cosign.Legacy))
	for _, typ := range []string{"https://example.com/a/v1", "https://example.com/b/v1", "https://example.com/a/v1"} {
		if err := signer.Attest(f.ctx, ref, typ, map[string]any{"at": typ}); err != nil {
			t.Fatal(err)
		}
	}
	rep := &cosign.Report{}
	if err := f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub}).CheckAttestations(f.ctx, ref, rep); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, a := range rep.Attestations {
		types = append(types, a.PredicateType)
	}
	if strings.Join(types, " ") != "https://example.com/a/v1 https://example.com/b/v1" {
		t.Errorf("the .att tag holds %v, want the new a, then b", types)
	}
}
