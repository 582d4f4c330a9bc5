package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/internal/lazyre"
)

// marshal turns a typed object into YAML without the empty values that
// typed Go structs cannot omit (creationTimestamp: null, resources: {},
// status: {}, schedule: ""): in a strategic-merge patch a null even means
// "delete", and an empty string overwrites.
// The types stay the source of truth; only empties are dropped.
func marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "status") // we never write status; its Go type has non-omitempty zeros
	}
	return yaml.Marshal(prune(v))
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := prune(val)
			if isEmpty(p) {
				delete(x, k)
			} else {
				x[k] = p
			}
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = prune(val)
		}
		return x
	}
	return v
}

// isEmpty reports values a patch must not carry: nulls, empty objects and
// empty strings (a required string such as a CronJob's schedule is emitted
// as "" by its Go type, and "" in a patch would overwrite the real value).
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

// docSeparator is a "---" line, which in YAML always starts a new
// document (content of block scalars is indented, so it cannot match).
var docSeparator = lazyre.New(`(?m)^---[ \t]*(#.*)?$\n?`)

// splitDocuments splits a multi-document YAML stream into the documents'
// original text, so untouched documents keep their comments and layout.
// Documents without content are dropped; each document must parse.
func splitDocuments(data []byte) ([][]byte, error) {
	var docs [][]byte
	for _, part := range docSeparator().Split(string(data), -1) {
		var n yamlv3.Node
		if err := yamlv3.Unmarshal([]byte(part), &n); err != nil {
			return nil, fmt.Errorf("%w: malformed YAML: %v", ErrInvalid, err)
		}
		if len(n.Content) == 0 {
			continue
		}
		if !strings.HasSuffix(part, "\n") {
			part += "\n"
		}
		docs = append(docs, []byte(part))
	}
	return docs, nil
}

// joinDocuments writes documents as one YAML stream.
func joinDocuments(docs [][]byte) []byte {
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(d)
	}
	return b.Bytes()
}

// streamDoc is one document of a YAML stream as written: the separator line
// before it (empty for the first) and its text.
type streamDoc struct {
	sep, text []byte
	content   bool // not only comments and blank lines
}

// splitStream splits a YAML stream into its documents' original text and
// separator lines; joinStream puts them back byte for byte. Each document
// must parse.
func splitStream(data []byte) ([]streamDoc, error) {
	var docs []streamDoc
	prev := 0
	var sep []byte
	for _, loc := range docSeparator().FindAllIndex(data, -1) {
		docs = append(docs, streamDoc{sep: sep, text: data[prev:loc[0]]})
		sep, prev = data[loc[0]:loc[1]], loc[1]
	}
	docs = append(docs, streamDoc{sep: sep, text: data[prev:]})
	for i := range docs {
		var n yamlv3.Node
		if err := yamlv3.Unmarshal(docs[i].text, &n); err != nil {
			return nil, fmt.Errorf("%w: malformed YAML: %v", ErrInvalid, err)
		}
		docs[i].content = len(n.Content) > 0
	}
	return docs, nil
}

// joinStream writes documents split by splitStream as one YAML stream.
func joinStream(docs []streamDoc) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		b.Write(d.sep)
		b.Write(d.text)
	}
	return b.Bytes()
}
