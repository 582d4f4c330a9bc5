package attest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/attest"
)

// equalJSON compares two values by their JSON encoding.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func TestStatement(t *testing.T) {
	img, err := attest.ReadImage(image(t, layer(t, dir("site"), file("site/index.html", "<h1>hi</h1>"))))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []attest.Format{attest.SPDX, attest.CycloneDX} {
		t.Run(string(f), func(t *testing.T) {
			sbom, err := attest.SBOM(img, f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := attest.Statement("registry.example/site", img.Digest, f.PredicateType(), sbom)
			if err != nil {
				t.Fatalf("Statement() = %v", err)
			}
			var st struct {
				Type    string `json:"_type"`
				Subject []struct {
					Name   string            `json:"name"`
					Digest map[string]string `json:"digest"`
				} `json:"subject"`
				PredicateType string          `json:"predicateType"`
				Predicate     json.RawMessage `json:"predicate"`
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&st); err != nil {
				t.Fatalf("decoding %s: %v", out, err)
			}
			if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != f.PredicateType() || len(st.Subject) != 1 ||
				st.Subject[0].Name != "registry.example/site" || len(st.Subject[0].Digest) != 1 || st.Subject[0].Digest["sha256"] != img.Digest.Hex {
				t.Errorf("statement = %s", out)
			}
			var got, want any
			json.Unmarshal(st.Predicate, &got)
			json.Unmarshal(sbom, &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("predicate = %s\nwant %s", st.Predicate, sbom)
			}
			// Compact and the same every time.
			var compact bytes.Buffer
			json.Compact(&compact, out)
			again, _ := attest.Statement("registry.example/site", img.Digest, f.PredicateType(), sbom)
			if !bytes.Equal(out, compact.Bytes()) || !bytes.Equal(out, again) {
				t.Errorf("the statement is not compact or not stable")
			}
		})
	}
}

func TestStatementPredicates(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	type pred struct {
		Files []string `json:"files"`
	}
	for name, p := range map[string]any{
		"struct":          pred{Files: []string{"a"}},
		"map":             map[string]any{"files": []string{"a"}},
		"json.RawMessage": json.RawMessage(`{"files":["a"]}`),
	} {
		out, err := attest.Statement("x", d, "https://example.com/p", p)
		if err != nil || !strings.HasSuffix(string(out), `"predicate":{"files":["a"]}}`) {
			t.Errorf("Statement(%s) = %s, %v", name, out, err)
		}
	}
	for name, tc := range map[string]struct {
		digest v1.Hash
		typ    string
		pred   any
		want   string
	}{
		"sha512 digest": {v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("a", 128)}, "t:x", []byte(`{}`), "subject digest"},
		"short digest":  {v1.Hash{Algorithm: "sha256", Hex: "abc"}, "t:x", []byte(`{}`), `"sha256:abc"`},
		"no type":       {d, "", []byte(`{}`), "no predicate type"},
		"no predicate":  {d, "t:x", nil, "has no predicate"},
		"array":         {d, "t:x", []byte(`[1]`), "not a JSON object"},
		"string":        {d, "t:x", "text", "not a JSON object"},
		"invalid JSON":  {d, "t:x", []byte(`{`), "not a JSON object"},
	} {
		if _, err := attest.Statement("x", tc.digest, tc.typ, tc.pred); !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Statement() = %v, want ErrInvalid with %q", name, err, tc.want)
		}
	}
}

func TestParsePredicateType(t *testing.T) {
	for in, want := range map[string]string{
		"spdxjson":                      attest.SPDXPredicateType,
		"SPDX":                          attest.SPDXPredicateType,
		"cyclonedx":                     attest.CycloneDXPredicateType,
		"slsaprovenance1":               attest.ProvenancePredicateType,
		"slsaprovenance":                "https://slsa.dev/provenance/v0.2",
		"https://example.com/custom/v1": "https://example.com/custom/v1",
	} {
		if got, err := attest.ParsePredicateType(in); err != nil || got != want {
			t.Errorf("ParsePredicateType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sbom", "files/v1"} {
		if _, err := attest.ParsePredicateType(bad); !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), "slsaprovenance1") {
			t.Errorf("ParsePredicateType(%q) = %v, want ErrInvalid listing the names", bad, err)
		}
	}
	if attest.PredicateName(attest.ProvenancePredicateType) != "SLSA provenance v1" || attest.PredicateName("https://example.com") != "" {
		t.Error("PredicateName")
	}
}
