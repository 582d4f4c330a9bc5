package pack_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// TestWarmup: the warm-up DaemonSet pins the pushed digest, and its size
// is the same whether it comes from the build or, for the pushed image,
// from the registry (a gzipped layer read through, a plain one from its
// size).
func TestWarmup(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	reg, _ := publish.NewRegistry()
	dir := model(t)
	out := filepath.Join(t.TempDir(), "warmup.yaml")
	res, err := pack.Run(ctx, pack.Spec{Source: dir, Image: image(), Registry: reg, Tags: []string{host + "/ml/tiny:v1"},
		ModelPack: &pack.ModelPack{}, Warmup: &pack.Warmup{Warmup: kube.Warmup{Namespace: "models", NodeImageFS: 1 << 30}, Output: out}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	defer res.Close()
	w := res.Warmup
	if w == nil || w.Output != out || w.Size.Layers != 4 {
		t.Fatalf("Warmup = %+v", w)
	}
	var compressed, uncompressed int64
	for _, l := range res.Build.Layers {
		n, _ := l.Size()
		compressed += n
		uncompressed += l.UncompressedSize()
	}
	if w.Size.Compressed != compressed || w.Size.Uncompressed != uncompressed {
		t.Errorf("size = %+v, want %d/%d", w.Size, compressed, uncompressed)
	}
	data, _ := os.ReadFile(out)
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(data, &ds); err != nil {
		t.Fatal(err)
	}
	if ds.Spec.Template.Spec.Volumes[0].Image.Reference != res.Reference || ds.Namespace != "models" || ds.Name != "tiny-warmup" {
		t.Errorf("DaemonSet = %s", data)
	}
	if !strings.Contains(w.Note, "of a node image filesystem of 1.0 GiB") {
		t.Errorf("note = %s", w.Note)
	}

	// The same image by reference: the size from the registry.
	again, err := pack.Run(ctx, pack.Spec{Reference: res.Reference, Registry: reg, Warmup: &pack.Warmup{}})
	if err != nil {
		t.Fatalf("Run(Reference) = %v", err)
	}
	if again.Warmup.Size != w.Size {
		t.Errorf("size from the registry = %+v, from the build %+v", again.Warmup.Size, w.Size)
	}
}

func TestWarmupChecked(t *testing.T) {
	_, err := pack.Run(context.Background(), pack.Spec{Source: model(t), Image: image(), Tags: []string{"127.0.0.1:1/x:y"},
		Warmup: &pack.Warmup{Warmup: kube.Warmup{Namespace: "Bad_NS"}}})
	var fe *kube.FieldError
	if !errors.As(err, &fe) || fe.Field != "Namespace" {
		t.Fatalf("Run() = %v, want the namespace refused before anything", err)
	}
	_, err = pack.Run(context.Background(), pack.Spec{Source: model(t), Image: image(), Warmup: &pack.Warmup{}})
	var se *pack.SpecError
	if !errors.As(err, &se) || se.Field != "Warmup" {
		t.Fatalf("Run() without tags = %v, want a SpecError on Warmup", err)
	}
}
