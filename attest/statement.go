package attest

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Statement returns the in-toto v1 Statement
//
//	{"_type":"https://in-toto.io/Statement/v1",
//	 "subject":[{"name":NAME,"digest":{"sha256":HEX}}],
//	 "predicateType":PREDICATE_TYPE,"predicate":{…}}
//
// as compact JSON: the payload that a DSSE envelope signs. name is the
// image's repository (cosign uses the same), digest its manifest digest,
// which must be sha256 (cosign matches the subject's sha256 against the
// image it verifies). predicate is the JSON of an object: []byte or
// json.RawMessage as they are (what SBOM returns), a proto.Message such as
// Provenance's, or any value encoding/json encodes as an object.
//
// The predicate passes through a google.protobuf.Struct, as in the in-toto
// library's own types: object keys come out sorted and numbers are
// float64s, exact up to 2^53. The output is the same for the same input.
func Statement(name string, digest v1.Hash, predicateType string, predicate any) ([]byte, error) {
	if err := checkDigest("subject digest", digest.String()); err != nil {
		return nil, err
	}
	if predicateType == "" {
		return nil, invalid("the statement has no predicate type")
	}
	var raw []byte
	var err error
	switch p := predicate.(type) {
	case nil:
		return nil, invalid("the statement of type %s has no predicate", predicateType)
	case []byte:
		raw = p
	case json.RawMessage:
		raw = p
	case proto.Message:
		raw, err = protojson.Marshal(p)
	default:
		raw, err = json.Marshal(p)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding the %s predicate: %w", predicateType, err)
	}
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(raw, pred); err != nil {
		return nil, invalid("the %s predicate is not a JSON object: %v", predicateType, err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: name, Digest: map[string]string{"sha256": digest.Hex}}},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, invalid("statement of type %s for %s: %v", predicateType, digest, err)
	}
	out, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s statement: %w", predicateType, err)
	}
	// protojson varies its whitespace on purpose; compacting makes the
	// bytes depend on the content only.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("encoding the %s statement: %w", predicateType, err)
	}
	return buf.Bytes(), nil
}
