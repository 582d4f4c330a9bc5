package cosign_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/sign"
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

func TestSignVerifyAttest(t *testing.T) {
	host := testregistry.New(t)
	ctx := context.Background()
	ref := pushed(t, host, "web/site", "<h1>signed</h1>")
	priv, pub := keyPair(t, "s3cret-Pass")

	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, _, err := cosign.GenerateKeyPair(strings.TrimSuffix(priv, ".key"), []byte("x"), false); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, fs.ErrExist) ||
		!strings.Contains(err.Error(), `key file "`+priv+`": file already exists; overwrite it with force, or choose another prefix`) || strings.Contains(err.Error(), "--") {
		t.Errorf("overwriting a key pair: %v", err)
	}

	signer, err := cosign.NewKeySigner(ctx, priv, passFn("s3cret-Pass"))
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Sign(ctx, ref); err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	img, _ := remote.Image(ref)
	files, err := sign.Files(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Attest(ctx, ref, sign.FilesPredicateType, files); err != nil {
		t.Fatalf("Attest() = %v", err)
	}
	// The legacy tag is where cosign v2 and v3 look.
	sigTag, _ := name.NewTag(host + "/web/site:sha256-" + strings.TrimPrefix(ref.DigestStr(), "sha256:") + ".sig")
	if _, err := remote.Head(sigTag); err != nil {
		t.Errorf("no legacy signature tag %s: %v", sigTag, err)
	}

	v, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub, IgnoreTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := v.VerifyCount(ctx, ref); err != nil || n != 1 {
		t.Errorf("VerifyCount() = %d, %v", n, err)
	}
	pred, err := v.VerifyAttestation(ctx, ref, sign.FilesPredicateType)
	if err != nil {
		t.Fatalf("VerifyAttestation() = %v", err)
	}
	var got sign.FilesPredicate
	if err := json.Unmarshal(pred, &got); err != nil || got.FileCount != 1 || got.Files[0].Path != "index.html" {
		t.Errorf("predicate = %s (%v)", pred, err)
	}
	// Signing twice with the same key does not pile up signatures.
	if err := signer.Sign(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if n, _ := v.VerifyCount(ctx, ref); n != 1 {
		t.Errorf("after re-signing: %d signatures, want 1", n)
	}

	// Another key is rejected; an unsigned image is rejected.
	_, otherPub := keyPair(t, "other")
	ov, _ := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: otherPub, IgnoreTlog: true})
	if err := ov.Verify(ctx, ref); !errors.Is(err, cosign.ErrNoSignature) {
		t.Errorf("verify with another key: %v", err)
	}
	unsigned := pushed(t, host, "web/unsigned", "<h1>not signed</h1>")
	if err := v.Verify(ctx, unsigned); !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("verify unsigned: %v", err)
	}
	if _, err := v.VerifyAttestation(ctx, ref, "https://example.com/other"); !errors.Is(err, cosign.ErrNoSignature) {
		t.Errorf("verify a missing attestation type: %v", err)
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
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub}); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, cosign.ErrNoTrustedRoot) ||
		!strings.Contains(err.Error(), "set TrustedRoot to a trusted_root.json, or IgnoreTlog") || strings.Contains(err.Error(), "--") {
		t.Errorf("verify without tlog choice: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{Identity: "x", Issuer: "y", IgnoreTlog: true}); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, cosign.ErrNoTrustedRoot) ||
		!strings.Contains(err.Error(), "set TrustedRoot") || strings.Contains(err.Error(), "--") {
		t.Errorf("keyless verify without trusted root: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{IgnoreTlog: true}); !errors.Is(err, cosign.ErrKey) ||
		!strings.Contains(err.Error(), "(Identity or IdentityRegexp, and Issuer or IssuerRegexp)") || strings.Contains(err.Error(), "--") {
		t.Errorf("keyless verify without identity: %v", err)
	}
	if _, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub, TrustedRoot: filepath.Join(t.TempDir(), "none.json")}); !errors.Is(err, cosign.ErrKey) ||
		!strings.Contains(err.Error(), `reading trusted root "`) || strings.Contains(err.Error(), "--") {
		t.Errorf("missing trusted root: %v", err)
	}
	if _, err := cosign.NewKeylessSigner(ctx, cosign.KeylessOptions{}); !errors.Is(err, cosign.ErrKey) || !errors.Is(err, cosign.ErrNoIDToken) ||
		!strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "--") {
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
