package kubevalidate

import (
	"compress/gzip"
	"io"
	"os"
	"testing"

	"sigs.k8s.io/yaml"
)

// ref is the model image of examples/kserve (its digest as built there).
const ref = "registry.example.com/ml/tiny-llama@sha256:b5d7df8d3d55b55c007a229bd372a4c991878212b1bd15799ae096554ad820c6"

func decode(t *testing.T, name string, data []byte, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("%s does not decode strictly: %v\n%s", name, err, data)
	}
}

// read returns a YAML file as JSON.
func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// readGzip returns the decompressed contents of a .gz file.
func readGzip(t *testing.T, file string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return raw
}
