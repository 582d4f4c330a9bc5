package testsigstore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	// The entry kinds the log accepts: what assetpack uploads through
	// sigstore-go (pkg/sign/transparency.go: hashedrekord for a message
	// signature, dsse for a DSSE envelope) and cosign's packages
	// (pkg/cosign/tlog.go: TLogUpload, hashedrekord; TLogUploadDSSEEnvelope,
	// dsse).
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
)

// rekorLog emulates the Rekor v1 REST API (the server of rekor v1.4.3,
// pkg/api) closely enough for the clients assetpack signs with and the
// verifiers that check what they wrote: a single shard of an append-only
// RFC 6962 Merkle tree kept in memory (transparency-dev/merkle's testonly
// tree, where Rekor asks Trillian), signed by an ECDSA P-256 key.
//
// Where each part of an answer comes from (rekor v1.4.3 unless said):
//
//   - POST /api/v1/log/entries (pkg/api/entries.go, createLogEntry and
//     CreateLogEntryHandler): the proposed entry is parsed and validated by
//     the entry kind (types.CreateVersionedEntry: a signature that does not
//     verify is refused with 400), canonicalized (types.CanonicalizeEntry)
//     and appended as a leaf. The answer is 201 Created with the JSON object
//     models.LogEntry, {"<entry ID>": models.LogEntryAnon}, and the headers
//     ETag (the entry ID: sigstore-go's pkg/sign/transparency.go reads
//     resp.Payload[resp.ETag]) and Location (the request path + "/<entry
//     ID>"). An entry already in the log is 409 Conflict with Location and
//     models.Error{code, message} (pkg/api/error.go, handleRekorAPIError).
//   - The entry ID (pkg/sharding/sharding.go, CreateEntryIDFromParts): the
//     tree ID as 16 hex digits, then the UUID, the hex RFC 6962 leaf hash of
//     the canonicalized body. Written here by hand because pkg/sharding
//     brings Trillian's client and Rekor's signer packages along.
//   - LogEntryAnon (pkg/generated/models/log_entry.go): body (the
//     canonicalized entry, base64 in JSON: Rekor sets the []byte leaf
//     value), integratedTime (Unix seconds), logID (hex SHA-256 of the log
//     key's PKIX DER, as in the trusted root), logIndex (the leaf index; one
//     shard, so the virtual index of pkg/sharding/log_index.go is the same).
//   - verification.signedEntryTimestamp (pkg/api/entries.go, signEntry):
//     the log key's signature (ECDSA, SHA-256, ASN.1) over the RFC 8785
//     canonical JSON of {body, integratedTime, logID, logIndex}, the entry
//     before its verification is added. sigstore-go checks it in
//     pkg/tlog/entry.go (VerifySET, RekorPayload), cosign v2 in
//     pkg/cosign/verify.go (VerifyBundle).
//   - verification.inclusionProof (models.InclusionProof): logIndex (in the
//     tree), treeSize and rootHash of the tree just after the append, hashes
//     (the audit path, hex, leaf to root, as Trillian returns it) and
//     checkpoint: a signed note (pkg/util/checkpoint.go,
//     CreateAndSignCheckpoint) whose origin is "<hostname> - <tree ID>", the
//     shape sigstore-go's pkg/verify/tlog.go (hasRekorV1STH) takes for a
//     Rekor v1 log. Bundles v0.3 need it (sigstore-go's pkg/tlog/entry.go,
//     ParseTransparencyLogEntry; rekor's pkg/tle/tle.go copies it in).
//   - GET /api/v1/log/entries/{entryUUID} (GetLogEntryByUUIDHandler, with
//     logEntryFromLeaf): the same LogEntry, proved against the current tree;
//     an entry ID or a bare UUID is accepted. cosign's doUpload asks for it
//     after a 409.
//   - GET /api/v1/log (pkg/api/tlog.go, GetLogInfoHandler): models.LogInfo
//     with rootHash, treeSize, signedTreeHead (a checkpoint) and treeID
//     (decimal).
//   - GET /api/v1/log/publicKey (pkg/api/public_key.go): the log key, PEM,
//     as application/x-pem-file.
//
// Not emulated: search, the log proof, sharding, attestation storage and
// the server's allow-list of signing algorithms (checkEntryAlgorithms);
// assetpack's keys are all allowed.
type rekorLog struct {
	s        *Sigstore
	signer   signature.Signer
	foreign  signature.Signer // signs the SET when Sigstore.ForeignSET is set
	pubPEM   []byte
	logID    string
	treeID   int64
	hostname string

	mu     sync.Mutex
	tree   *testonly.Tree
	leaves []rekorLeaf
	byUUID map[string]int64
}

type rekorLeaf struct {
	body           []byte
	integratedTime int64
}

func newRekorLog(s *Sigstore, hostname string) (*rekorLog, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := signature.LoadECDSASigner(key, crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	foreign, err := signature.LoadECDSASigner(other, crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		return nil, nil, err
	}
	id, err := logID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	// A Trillian tree ID: a positive int64, at random.
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	return &rekorLog{s: s, signer: signer, foreign: foreign, pubPEM: pubPEM, logID: hex.EncodeToString(id),
		treeID: n.Int64() + 1, hostname: hostname, tree: testonly.New(rfc6962.DefaultHasher), byUUID: map[string]int64{}}, key, nil
}

// logID is a log's ID: the SHA-256 of its public key's PKIX DER (RFC 6962
// section 3.2), as Rekor and the trusted root name it.
func logID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

const entriesPath = "/api/v1/log/entries"

func (l *rekorLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == entriesPath && r.Method == http.MethodPost:
		l.create(w, r)
	case strings.HasPrefix(p, entriesPath+"/") && r.Method == http.MethodGet:
		l.get(w, r, strings.TrimPrefix(p, entriesPath+"/"))
	case p == "/api/v1/log" && r.Method == http.MethodGet:
		l.info(w, r)
	case p == "/api/v1/log/publicKey" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(l.pubPEM)
	default:
		rekorError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not emulated", r.Method, p))
	}
}

// create is POST /api/v1/log/entries.
func (l *rekorLog) create(w http.ResponseWriter, r *http.Request) {
	pe, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
	if err != nil {
		rekorError(w, http.StatusBadRequest, err.Error())
		return
	}
	entry, err := types.CreateVersionedEntry(pe)
	if err != nil {
		rekorError(w, http.StatusBadRequest, fmt.Sprintf("error processing entry: %v", err))
		return
	}
	body, err := types.CanonicalizeEntry(r.Context(), entry)
	if err != nil {
		var verr *types.InputValidationError
		if errors.As(err, &verr) {
			rekorError(w, http.StatusBadRequest, fmt.Sprintf("error processing entry: %v", err))
			return
		}
		rekorError(w, http.StatusInternalServerError, "error generating canonicalized entry")
		return
	}
	uuid := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(body))
	id := fmt.Sprintf("%016x%s", l.treeID, uuid)

	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byUUID[uuid]; ok {
		w.Header().Set("Location", r.URL.Path+"/"+id)
		rekorError(w, http.StatusConflict, fmt.Sprintf("an equivalent entry already exists in the transparency log with UUID %v", id))
		return
	}
	index := int64(len(l.leaves))
	l.leaves = append(l.leaves, rekorLeaf{body: body, integratedTime: time.Now().Unix()})
	l.byUUID[uuid] = index
	l.tree.AppendData(body)
	e, err := l.entry(r.Context(), index)
	if err != nil {
		rekorError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("ETag", id)
	w.Header().Set("Location", r.URL.Path+"/"+id)
	writeJSON(w, http.StatusCreated, models.LogEntry{id: *e})
}

// get is GET /api/v1/log/entries/{entryUUID}.
func (l *rekorLog) get(w http.ResponseWriter, r *http.Request, id string) {
	uuid := id
	if len(id) == 80 {
		if id[:16] != fmt.Sprintf("%016x", l.treeID) {
			rekorError(w, http.StatusNotFound, "no such tree")
			return
		}
		uuid = id[16:]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	index, ok := l.byUUID[uuid]
	if !ok {
		rekorError(w, http.StatusNotFound, "")
		return
	}
	e, err := l.entry(r.Context(), index)
	if err != nil {
		rekorError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, models.LogEntry{fmt.Sprintf("%016x%s", l.treeID, uuid): *e})
}

// info is GET /api/v1/log.
func (l *rekorLog) info(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, root := l.tree.Size(), l.tree.Hash()
	cp, err := util.CreateAndSignCheckpoint(r.Context(), l.hostname, l.treeID, size, root, l.signer)
	if err != nil {
		rekorError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rootHex, treeSize, sth, treeID := hex.EncodeToString(root), int64(size), string(cp), fmt.Sprint(l.treeID)
	writeJSON(w, http.StatusOK, &models.LogInfo{RootHash: &rootHex, TreeSize: &treeSize, SignedTreeHead: &sth, TreeID: &treeID})
}

// entry is the log entry at index with its signed entry timestamp and its
// inclusion proof in the current tree (l.mu held).
func (l *rekorLog) entry(ctx context.Context, index int64) (*models.LogEntryAnon, error) {
	leaf := l.leaves[index]
	e := models.LogEntryAnon{LogID: &l.logID, LogIndex: &index, Body: leaf.body, IntegratedTime: &leaf.integratedTime}
	signer := l.signer
	if l.s.ForeignSET.Load() {
		signer = l.foreign
	}
	set, err := signEntry(ctx, signer, e)
	if err != nil {
		return nil, err
	}
	size, root := l.tree.Size(), l.tree.Hash()
	path, err := l.tree.InclusionProof(uint64(index), size)
	if err != nil {
		return nil, err
	}
	if l.s.ForgedProof.Load() {
		// A tree head that does not hold the entry, signed by the log's own
		// key: a log that claims an inclusion it cannot prove.
		root = rfc6962.DefaultHasher.HashChildren(root, root)
	}
	cp, err := util.CreateAndSignCheckpoint(ctx, l.hostname, l.treeID, size, root, l.signer)
	if err != nil {
		return nil, err
	}
	hashes := []string{}
	for _, h := range path {
		hashes = append(hashes, hex.EncodeToString(h))
	}
	rootHex, treeSize, checkpoint := hex.EncodeToString(root), int64(size), string(cp)
	e.Verification = &models.LogEntryAnonVerification{
		InclusionProof:       &models.InclusionProof{LogIndex: &index, TreeSize: &treeSize, RootHash: &rootHex, Hashes: hashes, Checkpoint: &checkpoint},
		SignedEntryTimestamp: strfmt.Base64(set),
	}
	return &e, nil
}

// signEntry is the signed entry timestamp: the signature of the canonical
// JSON (RFC 8785) of the entry without its verification, as rekor's
// pkg/api/entries.go signEntry makes it.
func signEntry(ctx context.Context, signer signature.Signer, e models.LogEntryAnon) ([]byte, error) {
	payload, err := e.MarshalBinary()
	if err != nil {
		return nil, err
	}
	canonical, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		return nil, err
	}
	return signer.SignMessage(strings.NewReader(string(canonical)), options.WithContext(ctx))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// rekorError answers as Rekor does when it refuses: models.Error.
func rekorError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, &models.Error{Code: int64(code), Message: message})
}
