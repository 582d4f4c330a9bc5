// Package jsondoc holds what the two small JSON Schema interpreters of
// assetpack (config's, for assetpack.yaml, and modelpack's, for model-spec's
// config schema) share: the JSON type of a decoded value, enum membership,
// and the line of a key in the YAML document a value came from.
package jsondoc

import (
	"encoding/json"
	"fmt"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Type names the JSON type of a value decoded by encoding/json.
func Type(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// InEnum reports whether v equals one of enum, compared as JSON.
func InEnum(v any, enum []any) bool {
	b, _ := json.Marshal(v)
	for _, e := range enum {
		if eb, _ := json.Marshal(e); string(eb) == string(b) {
			return true
		}
	}
	return false
}

// LineOf finds the line of the key at path (keys and indexes from the top)
// in a YAML document: the deepest one found.
func LineOf(root *yamlv3.Node, path []string) int {
	n := root
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		found := false
		switch n.Kind {
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
		case yamlv3.SequenceNode:
			var idx int
			if _, err := fmt.Sscanf(p, "%d", &idx); err == nil && idx >= 0 && idx < len(n.Content) {
				n = n.Content[idx]
				line, found = n.Line, true
			}
		}
		if !found {
			break
		}
	}
	return line
}
