package jsondoc

import (
	"encoding/json"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

func TestLineOf(t *testing.T) {
	var root yamlv3.Node
	doc := "a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n"
	if err := yamlv3.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want int
	}{
		{nil, 1}, {[]string{"a"}, 1}, {[]string{"b", "c"}, 3}, {[]string{"b", "d", "0", "e"}, 5},
		{[]string{"b", "missing"}, 2}, {[]string{"b", "d", "-1"}, 4}, {[]string{"b", "d", "7"}, 4},
	} {
		if got := LineOf(&root, tc.path); got != tc.want {
			t.Errorf("LineOf(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestTypeAndEnum(t *testing.T) {
	var v any
	json.Unmarshal([]byte(`{"n": 1, "s": "x", "l": [], "b": true, "z": null}`), &v)
	m := v.(map[string]any)
	for k, want := range map[string]string{"n": "number", "s": "string", "l": "array", "b": "boolean", "z": "null"} {
		if got := Type(m[k]); got != want {
			t.Errorf("Type(%s) = %s, want %s", k, got, want)
		}
	}
	if Type(m) != "object" || Type(json.Number("1")) != "number" {
		t.Error("object or json.Number misnamed")
	}
	if !InEnum(1.0, []any{"1", 1.0}) || InEnum("2", []any{2.0}) {
		t.Error("InEnum compares as JSON: 1 is in [\"1\", 1], \"2\" is not in [2]")
	}
}
