package pack_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/sign/cosign"
)

// keySigner is a cosign key signer and the public key that verifies it.
func keySigner(t *testing.T, reg *publish.Registry) (*cosign.Signer, string) {
	t.Helper()
	priv, pub, err := cosign.GenerateKeyPair(filepath.Join(t.TempDir(), "cosign"), []byte("pw"), false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cosign.NewKeySigner(context.Background(), priv, func() ([]byte, error) { return []byte("pw"), nil }, cosign.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

// TestRunAttestsWithKey: with a real key signer, a build written to a
// layout and pushed gets a signed SPDX SBOM whose files are the tree's
// with their sha256, and a SLSA provenance, in both formats; each
// attestation in the Result names the statement that its bundle signs.
func TestRunAttestsWithKey(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	reg, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	signer, pub := keySigner(t, reg)
	dir := site(t)
	res, err := pack.Run(ctx, pack.Spec{Source: dir, Image: image(), Registry: reg, Tags: []string{host + "/web/site:v1"},
		Output: publish.Target{Kind: publish.Layout, Path: filepath.Join(t.TempDir(), "out")},
		Sign:   &pack.Sign{Signer: signer, SBOM: attest.SPDX, Provenance: true, Format: sign.FormatBoth, Version: "v1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if len(res.Attestations) != 2 || res.Attestations[0].PredicateType != attest.SPDXPredicateType || res.Attestations[1].PredicateType != attest.ProvenancePredicateType {
		t.Fatalf("attestations %+v", res.Attestations)
	}
	for _, a := range res.Attestations {
		if a.Bundle == nil || a.Legacy == nil || a.Subject.String() != res.Reference {
			t.Errorf("attestation %+v: want a bundle and a legacy .att about %s", a, res.Reference)
			continue
		}
		// The bundle's DSSE payload is the statement the Result names.
		desc, err := remote.Get(*a.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.FetchReferrer(ctx, a.Subject, publish.Listed{Descriptor: desc.Descriptor})
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ DsseEnvelope struct{ Payload string } }
		json.Unmarshal(f.Layers[0], &b)
		payload, _ := base64.StdEncoding.DecodeString(b.DsseEnvelope.Payload)
		if sum := sha256.Sum256(payload); hex.EncodeToString(sum[:]) != a.Statement.Hex {
			t.Errorf("the bundle %s signs a statement of sha256 %x, the Result says %s", a.Bundle, sum, a.Statement)
		}
	}

	v, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub}, cosign.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Pushed.Refs[0]
	pred, err := v.VerifyAttestation(ctx, d, attest.SPDXPredicateType)
	if err != nil {
		t.Fatalf("VerifyAttestation(SPDX) = %v", err)
	}
	var doc struct {
		Files []struct {
			FileName  string
			Checksums []struct{ Algorithm, ChecksumValue string }
		}
	}
	if err := json.Unmarshal(pred, &doc); err != nil || len(doc.Files) != 2 {
		t.Fatalf("SBOM %s: %v", pred, err)
	}
	for _, f := range doc.Files {
		data, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(f.FileName, "./")))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		found := false
		for _, c := range f.Checksums {
			found = found || c.Algorithm == "SHA256" && c.ChecksumValue == hex.EncodeToString(sum[:])
		}
		if !found {
			t.Errorf("the SBOM gives %s the checksums %+v; its sha256 is %x", f.FileName, f.Checksums, sum)
		}
	}
	prov, err := v.VerifyAttestation(ctx, d, attest.ProvenancePredicateType)
	if err != nil || !strings.Contains(string(prov), `"id":"https://assetpack.dev/assetpack@v1.2.3"`) || !strings.Contains(string(prov), `"source":"`+dir+`"`) {
		t.Errorf("VerifyAttestation(provenance) = %s, %v", prov, err)
	}
}

// TestRunSBOMDeterministic: two copies of a tree with other modification
// times, written in another order, give the same SBOM statement (the same
// digest), signed by a real key, while the signatures around it differ.
func TestRunSBOMDeterministic(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	reg, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := keySigner(t, reg)
	a := site(t)
	b := t.TempDir()
	for _, n := range []string{"model.bin", "index.html"} { // the other order
		data, _ := os.ReadFile(filepath.Join(a, n))
		os.WriteFile(filepath.Join(b, n), data, 0o644)
		os.Chtimes(filepath.Join(b, n), time.Unix(1500000000, 0), time.Unix(1400000000, 0))
	}
	var got []pack.Result
	for i, dir := range []string{a, b} {
		res, err := pack.Run(ctx, pack.Spec{Source: dir, Image: image(), Registry: reg, Tags: []string{host + "/web/site:copy" + string(rune('a'+i))},
			Sign: &pack.Sign{Signer: signer, SBOM: attest.SPDX}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		got = append(got, *res)
	}
	x, y := got[0].Attestations[0], got[1].Attestations[0]
	if got[0].Digest != got[1].Digest || x.Statement != y.Statement {
		t.Errorf("image %s vs %s, SBOM statement %s vs %s: want the same", got[0].Digest, got[1].Digest, x.Statement, y.Statement)
	}
	if *x.Bundle == *y.Bundle {
		t.Errorf("both SBOM bundles are %s: the signatures should differ", x.Bundle)
	}
}
