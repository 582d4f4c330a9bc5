package kubevalidate

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"sigs.k8s.io/yaml"
)

// crdSchema reads a vendored CRD (testdata/README.md says where from) and
// returns the schema of version, in the two forms the API server uses for
// a custom resource: structural (for pruning) and for validation.
func crdSchema(t *testing.T, file, version string) (*structuralschema.Structural, apiservervalidation.SchemaValidator) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			t.Fatal(err)
		}
		ss, err := structuralschema.NewStructural(&internal)
		if err != nil {
			t.Fatalf("%s: the schema is not structural: %v", file, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
		if err != nil {
			t.Fatal(err)
		}
		return ss, validator
	}
	t.Fatalf("%s has no version %s", file, version)
	return nil, nil
}

// TestInferenceServiceCRD: examples/kserve's InferenceService, as its
// README applies it (the pushed reference put in), against KServe
// v0.20.0's published CRD as the API server treats a custom resource:
// nothing is pruned (an older CRD without volumes[].image would silently
// drop the volume) and the schema validates it. A field the CRD does not
// know is pruned, so the check can fail.
func TestInferenceServiceCRD(t *testing.T) {
	ss, validator := crdSchema(t, filepath.Join("testdata", "kserve-v0.20.0-inferenceservices.yaml.gz"), "v1beta1")
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "kserve", "k8s", "inferenceservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw = regexp.MustCompile(`registry\.example\.com/ml/tiny-llama@sha256:[0-9a-f]{64}`).ReplaceAll(raw, []byte(ref))
	load := func() map[string]any {
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		obj["metadata"].(map[string]any)["namespace"] = "default"
		return obj
	}
	obj := load()
	if pruned := pruning.PruneWithOptions(obj, ss, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(pruned) > 0 {
		t.Errorf("the API server would prune %v from the InferenceService", pruned)
	}
	if errs := apiservervalidation.ValidateCustomResource(nil, obj, validator); len(errs) > 0 {
		t.Errorf("the CRD's schema refuses the InferenceService: %v", errs.ToAggregate())
	}
	vols := obj["spec"].(map[string]any)["predictor"].(map[string]any)["volumes"].([]any)
	if img, _ := vols[0].(map[string]any)["image"].(map[string]any); img == nil || img["reference"] != ref {
		t.Errorf("after pruning, the predictor's volume is %v, want the image volume of %s", vols[0], ref)
	}

	spoilt := load()
	spoilt["spec"].(map[string]any)["predictor"].(map[string]any)["volumes"].([]any)[0].(map[string]any)["image"].(map[string]any)["digest"] = "sha256:0"
	if pruned := pruning.PruneWithOptions(spoilt, ss, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(pruned) != 1 || pruned[0] != "spec.predictor.volumes[0].image.digest" {
		t.Errorf("pruned %v, want spec.predictor.volumes[0].image.digest", pruned)
	}
	spoilt = load()
	spoilt["spec"].(map[string]any)["predictor"].(map[string]any)["minReplicas"] = "one"
	if errs := apiservervalidation.ValidateCustomResource(nil, spoilt, validator); len(errs) == 0 {
		t.Error("the CRD's schema lets minReplicas: one through")
	}
}
