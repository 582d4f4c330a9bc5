package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/assetpack/assetpack/internal/jsondoc"
)

// The JSON Schema in assetpack.schema.json is checked by the interpreter
// below, which knows the keywords that schema uses (type, enum, pattern,
// minLength, minItems, properties, required, items, additionalProperties)
// and refuses to load a schema with any other, so the file stays the single
// source of truth. It replaces github.com/santhosh-tekuri/jsonschema: that
// library compiles the metaschema of every JSON Schema draft in its package
// initialization, which cost every assetpack command ~15 ms before main, with
// or without an assetpack.yaml. TestSchemaAgreesWithJSONSchema checks this
// interpreter against that library on valid and invalid documents.

// schemaNode is one schema of the file, compiled.
type schemaNode struct {
	typ        string
	enum       []any
	minLength  int
	minItems   int
	pattern    *regexp.Regexp
	properties map[string]*schemaNode
	required   []string
	items      *schemaNode
	closed     bool        // additionalProperties: false
	additional *schemaNode // additionalProperties: a schema
}

// annotations carry no constraint.
var annotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true,
	"markdownDescription": true, "default": true, "examples": true, "$comment": true}

func compileSchema(raw json.RawMessage, at string) (*schemaNode, error) {
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kw); err != nil {
		return nil, fmt.Errorf("schema %s: %v", at, err)
	}
	n := &schemaNode{}
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := kw[k]
		var err error
		switch k {
		case "type":
			err = json.Unmarshal(v, &n.typ)
			if err == nil && !map[string]bool{"string": true, "boolean": true, "array": true, "object": true, "number": true, "integer": true}[n.typ] {
				err = fmt.Errorf("type %q is not supported", n.typ)
			}
		case "enum":
			err = json.Unmarshal(v, &n.enum)
		case "minLength":
			err = json.Unmarshal(v, &n.minLength)
		case "minItems":
			err = json.Unmarshal(v, &n.minItems)
		case "pattern":
			var p string
			if err = json.Unmarshal(v, &p); err == nil {
				n.pattern, err = regexp.Compile(p)
			}
		case "required":
			err = json.Unmarshal(v, &n.required)
		case "items":
			n.items, err = compileSchema(v, at+"/items")
		case "properties":
			var props map[string]json.RawMessage
			if err = json.Unmarshal(v, &props); err == nil {
				n.properties = map[string]*schemaNode{}
				for name, p := range props {
					if n.properties[name], err = compileSchema(p, at+"/properties/"+name); err != nil {
						return nil, err
					}
				}
			}
		case "additionalProperties":
			var b bool
			if json.Unmarshal(v, &b) == nil {
				n.closed = !b
			} else {
				n.additional, err = compileSchema(v, at+"/additionalProperties")
			}
		default:
			if !annotations[k] {
				err = fmt.Errorf("keyword %q is not supported by assetpack's schema checker (config/schema.go)", k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("schema %s: %s: %w", at, k, err)
		}
	}
	return n, nil
}

var compiled = sync.OnceValues(func() (*schemaNode, error) { return compileSchema(Schema, "#") })

// violation is one way a document breaks the schema: where (keys and
// indexes from the top) and what.
type violation struct {
	loc []string
	msg string
}

func (n *schemaNode) validate(v any, loc []string, out *[]violation) {
	add := func(at []string, format string, a ...any) {
		*out = append(*out, violation{append([]string(nil), at...), fmt.Sprintf(format, a...)})
	}
	if n.typ != "" && !hasType(v, n.typ) {
		add(loc, "got %s, want %s", jsondoc.Type(v), n.typ)
		return
	}
	if n.enum != nil && !jsondoc.InEnum(v, n.enum) {
		want := make([]string, len(n.enum))
		for i, e := range n.enum {
			b, _ := json.Marshal(e)
			want[i] = string(b)
		}
		add(loc, "value must be one of %s", strings.Join(want, ", "))
	}
	switch v := v.(type) {
	case string:
		if l := len([]rune(v)); l < n.minLength {
			add(loc, "minLength: got %d, want %d", l, n.minLength)
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			add(loc, "%q does not match pattern %q", v, n.pattern.String())
		}
	case []any:
		if len(v) < n.minItems {
			add(loc, "minItems: got %d, want %d", len(v), n.minItems)
		}
		if n.items != nil {
			for i, e := range v {
				n.items.validate(e, append(loc[:len(loc):len(loc)], strconv.Itoa(i)), out)
			}
		}
	case map[string]any:
		for _, r := range n.required {
			if _, ok := v[r]; !ok {
				add(loc, "missing property %q", r)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			at := append(loc[:len(loc):len(loc)], k)
			switch p, known := n.properties[k]; {
			case known:
				p.validate(v[k], at, out)
			case n.closed:
				add(at, "unknown key %q (see the schema in assetpack.schema.json; keys are camelCase)", k)
			case n.additional != nil:
				n.additional.validate(v[k], at, out)
			}
		}
	}
}

func hasType(v any, typ string) bool {
	switch typ {
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	}
	return jsondoc.Type(v) == typ
}
