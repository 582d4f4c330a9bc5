package testsigstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/util"
	rekorverify "github.com/sigstore/rekor/pkg/verify"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/assetpack/assetpack/internal/testsigstore"
)

// TestRekor checks the emulated log with rekor's own client and verifier:
// each entry's inclusion proof, checkpoint and signed entry timestamp
// verify with the log key of the trusted root, on its answer and when read
// back from a larger tree; a second upload of an entry is a conflict that
// cosign resolves to the first; the log info's tree head is signed; a
// signature that does not verify is refused; the two lies the tests can
// ask for each fail rekor's verification.
func TestRekor(t *testing.T) {
	ctx := context.Background()
	ss := testsigstore.New(t)
	rc, err := client.GetRekorClient(ss.RekorURL)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(ss.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	logs := tr.RekorLogs()
	if len(logs) != 1 {
		t.Fatalf("trusted root has %d transparency logs, want 1", len(logs))
	}
	var tlog *root.TransparencyLog
	for id, l := range logs {
		tlog = l
		if want, _ := sigcosign.GetTransparencyLogID(l.PublicKey); id != want || l.BaseURL != ss.RekorURL {
			t.Errorf("trusted root's log %s at %s, want %s at %s", id, l.BaseURL, want, ss.RekorURL)
		}
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(ss.RekorPublicKey)
	if err != nil || cryptoutils.EqualKeys(pub, tlog.PublicKey) != nil {
		t.Fatalf("RekorPublicKey is not the trusted root's log key: %v", err)
	}
	logKey, err := signature.LoadVerifier(tlog.PublicKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	upload := func(payload string) (*models.LogEntryAnon, []byte, error) {
		h := sha256.Sum256([]byte(payload))
		sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		hasher := sha256.New()
		hasher.Write([]byte(payload))
		e, err := sigcosign.TLogUpload(ctx, rc, sig, hasher, pubPEM)
		return e, sig, err
	}
	check := func(e *models.LogEntryAnon, index, size int64) {
		t.Helper()
		if err := rekorverify.VerifyLogEntry(ctx, e, logKey); err != nil {
			t.Errorf("entry %d: rekor's VerifyLogEntry: %v", index, err)
		}
		p := e.Verification.InclusionProof
		if *e.LogIndex != index || *p.LogIndex != index || *p.TreeSize != size || *e.LogID != hexID(tlog) {
			t.Errorf("entry %d: logIndex %d, proof index %d, tree size %d, log ID %s; want %d, %d, %d, %s", index, *e.LogIndex, *p.LogIndex, *p.TreeSize, *e.LogID, index, index, size, hexID(tlog))
		}
		var cp util.SignedCheckpoint
		if err := cp.UnmarshalText([]byte(*p.Checkpoint)); err != nil {
			t.Fatal(err)
		}
		if int64(cp.Size) != size || !strings.HasPrefix(cp.Origin, "127.0.0.1 - ") {
			t.Errorf("entry %d: checkpoint of size %d from %q, want %d from 127.0.0.1 - <tree ID>", index, cp.Size, cp.Origin, size)
		}
	}

	var uuids []string
	var first []byte
	for i := range 5 {
		e, sig, err := upload(fmt.Sprintf("payload %d", i))
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if i == 0 {
			first = sig
		}
		check(e, int64(i), int64(i+1))
		leaf, _ := sigcosign.ComputeLeafHash(e)
		uuids = append(uuids, fmt.Sprintf("%x", leaf))
	}
	// Read back from the tree of five: audit paths of two and three hashes.
	for i, uuid := range uuids {
		e, err := sigcosign.GetTlogEntry(ctx, rc, uuid)
		if err != nil {
			t.Fatalf("GetTlogEntry(%s): %v", uuid, err)
		}
		check(e, int64(i), 5)
	}

	t.Run("conflict", func(t *testing.T) {
		h := sha256.New()
		h.Write([]byte("payload 0"))
		// cosign reads the existing entry and verifies it with the key
		// from GET /api/v1/log/publicKey.
		e, err := sigcosign.TLogUpload(ctx, rc, first, h, pubPEM)
		if err != nil || *e.LogIndex != 0 {
			t.Fatalf("second upload of entry 0: %v, %+v", err, e)
		}
		_, err = rc.Entries.CreateLogEntry(entries.NewCreateLogEntryParamsWithContext(ctx).WithProposedEntry(proposed(t, first, pubPEM, "payload 0")))
		var conflict *entries.CreateLogEntryConflict
		if !errors.As(err, &conflict) || !strings.HasSuffix(conflict.Location.String(), uuids[0]) {
			t.Errorf("CreateLogEntry of an entry in the log = %v, want 409 with its location", err)
		}
	})

	t.Run("log info", func(t *testing.T) {
		info, err := rc.Tlog.GetLogInfo(nil)
		if err != nil {
			t.Fatal(err)
		}
		var cp util.SignedCheckpoint
		if err := cp.UnmarshalText([]byte(*info.Payload.SignedTreeHead)); err != nil {
			t.Fatal(err)
		}
		if *info.Payload.TreeSize != 5 || cp.Size != 5 || fmt.Sprintf("%x", cp.Hash) != *info.Payload.RootHash || !cp.Verify(logKey) {
			t.Errorf("log info %+v, checkpoint %+v", info.Payload, cp)
		}
	})

	t.Run("bad signature", func(t *testing.T) {
		_, err := rc.Entries.CreateLogEntry(entries.NewCreateLogEntryParamsWithContext(ctx).WithProposedEntry(proposed(t, first, pubPEM, "another payload")))
		var bad *entries.CreateLogEntryBadRequest
		if !errors.As(err, &bad) {
			t.Errorf("CreateLogEntry with a signature of another payload = %v, want 400", err)
		}
	})

	for _, lie := range []struct {
		name string
		flag func() func()
		want string
	}{
		{"foreign SET", func() func() { ss.ForeignSET.Store(true); return func() { ss.ForeignSET.Store(false) } }, "unable to verify bundle"},
		{"forged proof", func() func() { ss.ForgedProof.Store(true); return func() { ss.ForgedProof.Store(false) } }, "calculated root"},
	} {
		t.Run(lie.name, func(t *testing.T) {
			defer lie.flag()()
			e, _, err := upload("lie: " + lie.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := rekorverify.VerifyLogEntry(ctx, e, logKey); err == nil || !strings.Contains(err.Error(), lie.want) {
				t.Errorf("VerifyLogEntry() = %v, want %q", err, lie.want)
			}
		})
	}
}

func hexID(l *root.TransparencyLog) string { return fmt.Sprintf("%x", l.ID) }

// proposed is the hashedrekord entry of sig over payload.
func proposed(t *testing.T, sig, pubPEM []byte, payload string) models.ProposedEntry {
	t.Helper()
	h := sha256.Sum256([]byte(payload))
	alg, hexSum := models.HashedrekordV001SchemaDataHashAlgorithmSha256, fmt.Sprintf("%x", h)
	v := "0.0.1"
	return &models.Hashedrekord{APIVersion: &v, Spec: models.HashedrekordV001Schema{
		Data:      &models.HashedrekordV001SchemaData{Hash: &models.HashedrekordV001SchemaDataHash{Algorithm: &alg, Value: &hexSum}},
		Signature: &models.HashedrekordV001SchemaSignature{Content: sig, PublicKey: &models.HashedrekordV001SchemaSignaturePublicKey{Content: pubPEM}},
	}}
}
