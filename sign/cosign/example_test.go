package cosign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign/cosign"
)

// Example generates a key pair, pushes an image to a registry (here
// go-containerregistry's in-process one), signs it by digest and attests
// its SPDX SBOM, then verifies both with the public key, offline: signed
// with the transparency-log upload off (the default), and verified with
// the key alone, which is all a key-based signature needs. The signature
// is a Sigstore bundle referrer (the default format); the signer and
// verifier reach the registry through the publish.Registry that pushed.
func Example() {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tmp, err := os.MkdirTemp("", "assetpack-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	// cosign.key (encrypted with the password) and cosign.pub.
	password := []byte("example-password")
	priv, pub, err := cosign.GenerateKeyPair(filepath.Join(tmp, "cosign"), password, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(priv), filepath.Base(pub))

	res, err := builder.Build(ctx, "../../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	r, err := publish.NewRegistry()
	if err != nil {
		fmt.Println(err)
		return
	}
	tag, err := r.ParseTag(host + "/web/site-assets:v1")
	if err != nil {
		fmt.Println(err)
		return
	}
	pushed, err := r.Push(ctx, res.Artifact(), []name.Tag{tag})
	if err != nil {
		fmt.Println(err)
		return
	}
	ref := pushed.Refs[0] // sign the digest, never the tag

	signer, err := cosign.NewKeySigner(ctx, priv, func() ([]byte, error) { return password, nil },
		cosign.WithRegistry(r))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer signer.Close()
	if err := signer.Sign(ctx, ref); err != nil {
		fmt.Println(err)
		return
	}
	// The SBOM (package attest makes it) as a signed in-toto statement.
	img, err := attest.ReadImage(res.Image)
	if err != nil {
		fmt.Println(err)
		return
	}
	img.Name = ref.Context().Name()
	sbom, err := attest.SBOM(img, attest.SPDX)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := attest.Statement(img.Name, img.Digest, attest.SPDXPredicateType, sbom)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := signer.AttestStatement(ctx, ref, "", st); err != nil {
		fmt.Println(err)
		return
	}

	v, err := cosign.NewVerifier(ctx, cosign.VerifyOptions{KeyRef: pub}, cosign.WithRegistry(r))
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := v.Check(ctx, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range rep.Signatures {
		fmt.Printf("valid %s signature, found through the %s\n", s.Format, s.Found)
	}
	predicate, err := v.VerifyAttestation(ctx, ref, attest.SPDXPredicateType)
	if err != nil {
		fmt.Println(err)
		return
	}
	var doc struct {
		SPDXVersion string
		Files       []struct{ FileName string }
	}
	if err := json.Unmarshal(predicate, &doc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("attested: an %s SBOM of %d files\n", doc.SPDXVersion, len(doc.Files))

	// Another image, pushed but not signed, fails with ErrNoSignature.
	other, err := builder.Build(ctx, "../../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer other.Close()
	tag2, _ := r.ParseTag(host + "/web/site-assets:v2")
	unsigned, err := r.Push(ctx, other.Artifact(), []name.Tag{tag2})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = v.Verify(ctx, unsigned.Refs[0])
	fmt.Println("unsigned:", errors.Is(err, cosign.ErrNoSignature))
	// Output:
	// cosign.key cosign.pub
	// valid bundle signature, found through the tag schema
	// attested: an SPDX-2.3 SBOM of 6 files
	// unsigned: true
}
