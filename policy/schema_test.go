package policy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// crdValidator checks objects against one version of a CRD's schema.
type crdValidator struct{ schema *jsonschema.Schema }

// crdSchema loads testdata/crds/FILE (gzipped when it ends in .gz) and
// compiles the openAPIV3Schema of the named version as a JSON Schema.
// Objects that list properties and do not preserve unknown fields are
// closed (additionalProperties: false): the API server would prune or,
// with strict field validation (kubectl's default), refuse an unknown
// field, so a misspelt field must fail here.
func crdSchema(t *testing.T, file, version string) *crdValidator {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			schema = v.Schema.OpenAPIV3Schema
		}
	}
	if schema == nil {
		t.Fatalf("%s has no version %s", file, version)
	}
	// The API server accepts apiVersion, kind and metadata on every object
	// whether or not the schema lists them (policy-controller's does not).
	props, _ := schema["properties"].(map[string]any)
	for k, v := range map[string]any{"apiVersion": map[string]any{"type": "string"}, "kind": map[string]any{"type": "string"}, "metadata": map[string]any{"type": "object"}} {
		if _, ok := props[k]; !ok && props != nil {
			props[k] = v
		}
	}
	closeObjects(schema)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("crd.json", schema); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("crd.json")
	if err != nil {
		t.Fatal(err)
	}
	return &crdValidator{s}
}

func closeObjects(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["properties"]; ok && x["x-kubernetes-preserve-unknown-fields"] != true {
			if _, ok := x["additionalProperties"]; !ok {
				x["additionalProperties"] = false
			}
		}
		for _, c := range x {
			closeObjects(c)
		}
	case []any:
		for _, c := range x {
			closeObjects(c)
		}
	}
}

// validate checks one YAML object.
func (v *crdValidator) validate(doc []byte) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	if err := v.schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			var msgs []string
			for _, u := range ve.BasicOutput().Errors {
				if u.Error != nil {
					msgs = append(msgs, fmt.Sprintf("%s: %v", u.InstanceLocation, u.Error))
				}
			}
			return fmt.Errorf("%s", strings.Join(msgs, "; "))
		}
		return err
	}
	// The schema is loose about the top: check the type too.
	var tm struct{ APIVersion, Kind string }
	json.Unmarshal(j, &tm)
	if tm.APIVersion == "" || tm.Kind == "" {
		return fmt.Errorf("no apiVersion or kind")
	}
	return nil
}
