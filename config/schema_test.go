package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// TestSchemaAgreesWithJSONSchema runs documents through assetpack's schema
// checker and through a complete JSON Schema implementation (a test-only
// dependency): both must accept or refuse each one, at the same places.
func TestSchemaAgreesWithJSONSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("assetpack.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	ref, err := c.Compile("assetpack.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := compiled()
	if err != nil {
		t.Fatalf("the embedded schema does not load: %v", err)
	}
	docs := []string{
		Starter,
		"{}",
		"source: s\nrepository: r\ntags: [x]\nexcludes: [y]\nkubernetes: {workload: a/b, mountPath: /, output: o, containers: [c]}\n",
		"source: ./site\nprefix: /srv\nrepository: ghcr.io/acme/site\ntags: [v1, '{{ .ShortCommit }}']\npush: true\n",
		"platforms: [linux/amd64, linux/arm64/v8]\ncompression: zstd\nlayers: single\n",
		"annotations: {a: b}\nlabels: {c: d}\nexcludes: ['*.map']\n",
		"sign: {key: cosign.key, keyless: false, attestFiles: true, tlogUpload: false}\n",
		"sign: {key: cosign.key, sbom: true, sbomFormat: cyclonedx, provenance: false}\n",
		"sign: {keyless: true, sbom: false}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, containers: [nginx], subPath: s, volumeName: v, pullPolicy: IfNotPresent, format: kustomize, output: k8s, file: d.yaml}\n",
		// invalid
		"source: ''\n",
		"source: 3\n",
		"prefix: [a]\n",
		"repositry: x\n",
		"tags: v1\n",
		"tags: ['']\n",
		"tags: [1]\n",
		"push: 'yes please'\n",
		"platforms: []\n",
		"platforms: [Linux]\n",
		"platforms: [linux/amd64, 'linux/']\n",
		"compression: brotli\n",
		"compression: null\n",
		"layers: many\n",
		"annotations: {a: 1}\n",
		"annotations: [a]\n",
		"labels: {a: {b: c}}\n",
		"excludes: ['']\n",
		"sign: {keyles: true}\n",
		"sign: {key: ''}\n",
		"sign: yes\n",
		"sign: {keyless: 1}\n",
		"sign: {key: k, sbom: 'yes'}\n",
		"sign: {key: k, sbomFormat: spdx-json}\n",
		"sign: {key: k, provenance: 1}\n",
		"kubernetes: {workload: deployment/web}\n",
		"kubernetes: {mountPath: /srv}\n",
		"kubernetes: {workload: web, mountPath: /srv}\n",
		"kubernetes: {workload: deployment/Web, mountPath: /srv}\n",
		"kubernetes: {workload: deployment/web, mountPath: srv}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, pullPolicy: always}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, format: yaml}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, containers: ['']}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, output: ''}\n",
		"kubernetes: {workload: deployment/web, mountPath: /srv, extra: 1}\n",
		"- a\n- b\n",
		"just a string\n",
	}
	for _, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		var inst any
		if err := json.Unmarshal(j, &inst); err != nil {
			t.Fatal(err)
		}
		refInst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		refErr := ref.Validate(refInst)
		var got []violation
		ours.validate(inst, nil, &got)
		if (refErr == nil) != (len(got) == 0) {
			t.Errorf("%q: jsonschema says %v; assetpack's checker says %v", d, refErr, got)
			continue
		}
		if refErr == nil {
			continue
		}
		// The same places: jsonschema reports an unknown key at its object,
		// assetpack at the key itself.
		want := map[string]bool{}
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			if len(e.Causes) > 0 {
				for _, c := range e.Causes {
					walk(c)
				}
				return
			}
			want[strings.Join(e.InstanceLocation, ".")] = true
		}
		walk(refErr.(*jsonschema.ValidationError))
		for _, v := range got {
			at := strings.Join(v.loc, ".")
			parent := strings.Join(v.loc[:max(len(v.loc)-1, 0)], ".")
			if !want[at] && !(strings.HasPrefix(v.msg, "unknown key") && want[parent]) {
				t.Errorf("%q: assetpack reports %q at %q; jsonschema at %v", d, v.msg, at, want)
			}
		}
	}
}

// TestSchemaRefusesUnknownKeywords: a schema keyword the checker does not
// implement fails loudly instead of being ignored.
func TestSchemaRefusesUnknownKeywords(t *testing.T) {
	for _, s := range []string{
		`{"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}}`,
		`{"oneOf": [{"type": "string"}]}`,
		`{"type": "null"}`,
	} {
		if _, err := compileSchema(json.RawMessage(s), "#"); err == nil {
			t.Errorf("compileSchema(%s) succeeded", s)
		}
	}
}
