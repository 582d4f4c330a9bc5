package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/assetpack/assetpack/publish"
)

// The Sigstore bundle format, as cosign v3 writes it by default
// (cmd/cosign/cli/sign/sign.go, signDigestBundle; pkg/oci/remote/write.go,
// WriteAttestationNewBundleFormat and WriteReferrer):
//
//   - the signed payload is an in-toto v1 Statement about the image digest
//     (no subject name), predicate type SignPredicateType and an empty
//     predicate for a signature, or an attestation's own predicate type
//     and predicate;
//   - it is signed as a DSSE envelope (payload type
//     application/vnd.in-toto+json) into a Sigstore bundle v0.3, with the
//     public key's hint, or the Fulcio certificate, and any transparency
//     log entry or RFC 3161 timestamp (sigstore-go's sign.Bundle);
//   - the bundle is the one layer (media type BundleMediaType) of an OCI
//     1.1 artifact whose artifactType is BundleMediaType and whose subject
//     is the image, with an empty config and the annotations
//     dev.sigstore.bundle.content=dsse-envelope,
//     dev.sigstore.bundle.predicateType=<predicate type> and
//     org.opencontainers.image.created;
//   - it is attached through the referrers API, or the referrers tag schema
//     (publish.Registry.Attach).

// Media and predicate types of the bundle format.
const (
	// BundleMediaType is the artifact type (and layer media type) of a
	// Sigstore bundle referrer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SignPredicateType is the predicate type of cosign v3's image
	// signature statement.
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// IntotoPayloadType is the DSSE payload type of in-toto statements.
	IntotoPayloadType = "application/vnd.in-toto+json"

	annotationContent       = "dev.sigstore.bundle.content"
	annotationPredicateType = "dev.sigstore.bundle.predicateType"
	annotationCreated       = "org.opencontainers.image.created"
)

// signStatement is cosign v3's signature payload for digest: an in-toto
// v1 Statement whose only subject is the digest (with empty annotations,
// as cosign marshals them) and whose predicate is empty.
func signStatement(digest v1.Hash) ([]byte, error) {
	st := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Digest:      map[string]string{digest.Algorithm: digest.Hex},
			Annotations: &structpb.Struct{Fields: map[string]*structpb.Value{}},
		}},
		PredicateType: SignPredicateType,
		Predicate:     &structpb.Struct{},
	}
	out, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	// protojson varies its whitespace on purpose; cosign's output is
	// compact.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bundle signs statement (an in-toto statement) into a Sigstore bundle
// v0.3 (JSON): DSSE, with the certificate when keyless, a Rekor entry when
// the signer uploads to the log, a signed timestamp when it asks a
// timestamp authority.
func (s *Signer) bundle(ctx context.Context, statement []byte) ([]byte, error) {
	kp, err := newKeypair(s.sv)
	if err != nil {
		return nil, err
	}
	opts := sgsign.BundleOptions{Context: ctx}
	if s.cert != nil {
		opts.CertificateProvider = localCert{s.cert}
	}
	if s.o.tsaURL != "" {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities,
			sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: s.o.tsaURL, Timeout: 30 * time.Second, Retries: 1}))
	}
	if s.o.tlogUpload {
		opts.TransparencyLogs = append(opts.TransparencyLogs,
			sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: s.o.rekorURL, Timeout: 90 * time.Second, Retries: 1, Version: 1}))
	}
	b, err := sgsign.Bundle(&sgsign.DSSEData{Data: statement, PayloadType: IntotoPayloadType}, kp, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return protojson.Marshal(b)
}

// attachBundle attaches a bundle to ref as a referrer, as cosign v3 does.
func (s *Signer) attachBundle(ctx context.Context, ref name.Digest, bundle []byte, predicateType string) (*publish.Attached, error) {
	reg, err := s.o.reg()
	if err != nil {
		return nil, err
	}
	return reg.Attach(ctx, ref, &publish.Referrer{
		ArtifactType: BundleMediaType,
		Layers:       []publish.Blob{{MediaType: types.MediaType(BundleMediaType), Data: bundle}},
		Annotations: map[string]string{
			annotationContent:       "dsse-envelope",
			annotationPredicateType: predicateType,
			annotationCreated:       s.o.now().UTC().Format(time.RFC3339),
		},
	})
}

// signBundle signs ref in the bundle format.
func (s *Signer) signBundle(ctx context.Context, ref name.Digest) error {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return err
	}
	st, err := signStatement(h)
	if err != nil {
		return err
	}
	b, err := s.bundle(ctx, st)
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	if _, err := s.attachBundle(ctx, ref, b, SignPredicateType); err != nil {
		return fmt.Errorf("attaching the signature of %s: %w", ref, err)
	}
	return nil
}

// keypair adapts a signature.SignerVerifier (a cosign key file, a KMS key
// or the ephemeral key of keyless signing) to sigstore-go's sign.Keypair,
// which sign.Bundle signs with: sigstore-go's own keypairs hold an
// in-memory private key, and a KMS key never leaves the KMS. cosign v3
// does the same (internal/key/svkeypair.go, SignerVerifierKeypair): the
// hint is the base64 SHA-256 of the public key's PKIX form, and the data
// is hashed here and signed as a digest, so a KMS signs 32 bytes, not the
// whole payload.
type keypair struct {
	sv     signature.SignerVerifier
	pub    crypto.PublicKey
	hint   []byte
	keyAlg string
	alg    signature.AlgorithmDetails
}

func newKeypair(sv signature.SignerVerifier) (*keypair, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	k := &keypair{sv: sv, pub: pub, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}
	switch pub.(type) {
	case *ecdsa.PublicKey:
		k.keyAlg = "ECDSA"
	case *rsa.PublicKey:
		k.keyAlg = "RSA"
	case ed25519.PublicKey:
		k.keyAlg = "ED25519"
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
	if k.alg, err = signature.GetDefaultAlgorithmDetails(pub); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.alg.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.alg.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetKeyAlgorithm() string        { return k.keyAlg }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.pub }
func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.pub)
	return string(b), err
}

// SignData signs data, hashed first when the algorithm has a hash (not
// for Ed25519), and returns the signature and that digest.
func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	opts := []signature.SignOption{sigopts.WithContext(ctx)}
	var digest []byte
	if ht := k.alg.GetHashType(); ht != 0 {
		h := ht.New()
		h.Write(data)
		digest = h.Sum(nil)
		opts = append(opts, sigopts.WithDigest(digest))
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(data), opts...)
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}

// localCert gives sign.Bundle the certificate the signer already has
// (keyless: from Fulcio), as cosign's pkg/cosign/bundle does for a
// certificate it was given.
type localCert struct{ pem []byte }

func (c localCert) GetCertificate(context.Context, sgsign.Keypair, *sgsign.CertificateProviderOptions) ([]byte, error) {
	block, _ := pem.Decode(c.pem)
	if block == nil || !strings.Contains(block.Type, "CERTIFICATE") {
		return nil, errors.New("the signing certificate is not PEM")
	}
	return block.Bytes, nil
}
