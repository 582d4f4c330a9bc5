package modelpack

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/assetpack/assetpack/internal/jsondoc"
)

// configSchema is config-schema.json of github.com/modelpack/model-spec
// (package schema) at the version go.mod requires, byte for byte
// (TestSchemaIsModelSpecs). It is checked by the small interpreter below,
// not by model-spec's own validator: that one links
// github.com/santhosh-tekuri/jsonschema/v5, whose package initialisation
// compiles the metaschema of every JSON Schema draft and cost every
// assetpack command ~10 ms and 1 MB before main, with or without a model
// (the same reason config/ does not link it). The interpreter knows the
// keywords this schema uses (type, properties, additionalProperties,
// required, $ref into $defs, enum, minLength, minItems, format date-time)
// and refuses to load a schema with any other; its verdicts, the field it
// names and the message are those of model-spec's validator
// (TestSchemaAgreesWithModelSpec).
//
//go:embed config-schema.json
var configSchema []byte

// SpecVersion is the model-spec release whose schema and media types this
// package writes.
const SpecVersion = "v0.0.7"

type schemaNode struct {
	typ        string
	enum       []any
	minLength  int
	minItems   int
	format     string
	ref        string
	properties map[string]*schemaNode
	required   []string
	items      *schemaNode
	closed     bool // additionalProperties: false
}

type schema struct {
	root *schemaNode
	defs map[string]*schemaNode
}

var schemaAnnotations = map[string]bool{"$schema": true, "$id": true, "description": true, "title": true}

func compileNode(raw json.RawMessage, at string) (*schemaNode, error) {
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
		case "enum":
			err = json.Unmarshal(v, &n.enum)
		case "minLength":
			err = json.Unmarshal(v, &n.minLength)
		case "minItems":
			err = json.Unmarshal(v, &n.minItems)
		case "format":
			if err = json.Unmarshal(v, &n.format); err == nil && n.format != "date-time" {
				err = fmt.Errorf("format %q is not supported", n.format)
			}
		case "$ref":
			if err = json.Unmarshal(v, &n.ref); err == nil && !strings.HasPrefix(n.ref, "#/$defs/") {
				err = fmt.Errorf("only references into #/$defs are supported, not %q", n.ref)
			}
		case "required":
			err = json.Unmarshal(v, &n.required)
		case "items":
			n.items, err = compileNode(v, at+"/items")
		case "properties":
			var props map[string]json.RawMessage
			if err = json.Unmarshal(v, &props); err == nil {
				n.properties = map[string]*schemaNode{}
				for name, p := range props {
					if n.properties[name], err = compileNode(p, at+"/properties/"+name); err != nil {
						return nil, err
					}
				}
			}
		case "additionalProperties":
			var b bool
			if err = json.Unmarshal(v, &b); err == nil {
				n.closed = !b
			}
		case "$defs":
			if at != "#" {
				err = fmt.Errorf("$defs only at the top level")
			}
		default:
			if !schemaAnnotations[k] {
				err = fmt.Errorf("keyword %q is not supported by assetpack's checker (modelpack/schema.go)", k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("schema %s: %s: %w", at, k, err)
		}
	}
	return n, nil
}

func compileSchema(raw []byte) (*schema, error) {
	root, err := compileNode(raw, "#")
	if err != nil {
		return nil, err
	}
	var top struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	s := &schema{root: root, defs: map[string]*schemaNode{}}
	for name, d := range top.Defs {
		if s.defs[name], err = compileNode(d, "#/$defs/"+name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var compiled = sync.OnceValues(func() (*schema, error) { return compileSchema(configSchema) })

// Violation is one way a document breaks the ModelPack config schema.
type Violation struct {
	// Field is the JSON pointer of the value, as the validator names it
	// ("/descriptor/name"; "" for the document).
	Field string
	// Message is the validator's, such as "length must be >= 1, but got 0".
	Message string
}

func (s *schema) validate(n *schemaNode, v any, loc string, out *[]Violation) {
	add := func(format string, a ...any) { *out = append(*out, Violation{loc, fmt.Sprintf(format, a...)}) }
	if n.ref != "" {
		d := s.defs[strings.TrimPrefix(n.ref, "#/$defs/")]
		if d == nil {
			add("$ref %s not found", n.ref)
			return
		}
		s.validate(d, v, loc, out)
		return
	}
	if n.typ != "" && jsondoc.Type(v) != n.typ {
		add("expected %s, but got %s", n.typ, jsondoc.Type(v))
		return
	}
	if n.enum != nil && !jsondoc.InEnum(v, n.enum) {
		if len(n.enum) == 1 {
			add("value must be %#v", n.enum[0])
		} else {
			want := make([]string, len(n.enum))
			for i, e := range n.enum {
				want[i] = fmt.Sprintf("%#v", e)
			}
			add("value must be one of %s", strings.Join(want, ", "))
		}
	}
	if str, ok := v.(string); ok && n.format == "date-time" && !isDateTime(str) {
		add("%s is not valid %s", quote(str), quote(n.format))
	}
	switch v := v.(type) {
	case string:
		if l := utf8.RuneCountInString(v); l < n.minLength {
			add("length must be >= %d, but got %d", n.minLength, l)
		}
	case []any:
		if len(v) < n.minItems {
			add("minimum %d items required, but found %d items", n.minItems, len(v))
		}
		if n.items != nil {
			for i, e := range v {
				s.validate(n.items, e, loc+"/"+strconv.Itoa(i), out)
			}
		}
	case map[string]any:
		var missing []string
		for _, r := range n.required {
			if _, ok := v[r]; !ok {
				missing = append(missing, quote(r))
			}
		}
		if len(missing) > 0 {
			add("missing properties: %s", strings.Join(missing, ", "))
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var extra []string
		for _, k := range keys {
			if p, ok := n.properties[k]; ok {
				s.validate(p, v[k], loc+"/"+escape(k), out)
			} else if n.closed {
				extra = append(extra, quote(k))
			}
		}
		if len(extra) > 0 {
			add("additionalProperties %s not allowed", strings.Join(extra, ", "))
		}
	}
}

// quote single-quotes s as the validator does.
func quote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, `\"`, `"`)
	q = strings.ReplaceAll(q, `'`, `\'`)
	return "'" + q[1:len(q)-1] + "'"
}

// escape escapes a key for a JSON pointer (RFC 6901).
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// isDateTime checks an RFC 3339 date-time ("2025-01-01T00:00:00Z", an
// optional fraction, an offset), leap seconds allowed.
func isDateTime(s string) bool {
	if len(s) < 20 || (s[10] != 'T' && s[10] != 't') {
		return false
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return false
	}
	t := s[11:]
	if len(t) < 9 || t[2] != ':' || t[5] != ':' {
		return false
	}
	for i, max := range map[int]int{0: 23, 3: 59, 6: 60} {
		n, err := strconv.Atoi(t[i : i+2])
		if err != nil || n < 0 || n > max {
			return false
		}
	}
	t = t[8:]
	if t[0] == '.' {
		digits := 0
		for t = t[1:]; t != "" && t[0] >= '0' && t[0] <= '9'; t = t[1:] {
			digits++
		}
		if digits == 0 || t == "" {
			return false
		}
	}
	switch {
	case t == "z" || t == "Z":
		return true
	case len(t) == 6 && (t[0] == '+' || t[0] == '-') && t[3] == ':':
		h, err1 := strconv.Atoi(t[1:3])
		m, err2 := strconv.Atoi(t[4:6])
		return err1 == nil && err2 == nil && h <= 23 && m <= 59
	}
	return false
}

// Check validates a model config document (JSON) against the ModelPack
// config schema and returns every violation, sorted by field.
func Check(doc []byte) ([]Violation, error) {
	s, err := compiled()
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("the config is not JSON: %w", err)
	}
	var out []Violation
	s.validate(s.root, v, "", &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}
