//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkContainerdPullAndMount measures, through containerd's CRI, what
// a node does for a Pod with an image volume: pull the image, start a
// container that mounts it, and read every byte (the reader hashes each
// file). The model is pushed split into layers (--layers auto, the default)
// and as one layer (--layers single). The model directory is
// $ASSETPACK_BENCH_MODEL (for example /var/tmp/assetpack-bench/model from
// `make bench-data`), else two generated 128 MiB shards. Each iteration
// removes the image first, so every pull fetches and unpacks all of it.
// Run it with `make bench-cri`; it needs root, like the containerd test.
func BenchmarkContainerdPullAndMount(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("containerd needs root")
	}
	reg := startRegistry(b, registryOpts{})
	work := b.TempDir()
	pause := pushToolImage(b, reg, work)
	model := os.Getenv("ASSETPACK_BENCH_MODEL")
	if model == "" {
		model = filepath.Join(work, "model")
		os.MkdirAll(model, 0o755)
		for _, n := range []string{"shard-1.bin", "shard-2.bin"} {
			buf := make([]byte, 128<<20)
			rand.Read(buf)
			if err := os.WriteFile(filepath.Join(model, n), buf, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"layers": 2}`+"\n"), 0o644)
	}
	c := startContainerd(b, reg.Host, pause)
	c.must("pull", pause)

	for _, layers := range []string{"auto", "single"} {
		r := runEnv(b, work, nil, "", bin, "build", model, "--git=false", "--layers", layers,
			"-t", reg.Host+"/bench/model:"+layers, "--push", "--no-cache", "--json")
		if r.code != 0 {
			b.Fatalf("pushing the model (--layers %s): %s", layers, r.stderr)
		}
		var out struct {
			Reference string `json:"reference"`
			Layers    []any  `json:"layers"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			b.Fatal(err)
		}
		spec := corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "model", VolumeSource: corev1.VolumeSource{
				Image: &corev1.ImageVolumeSource{Reference: out.Reference}}}},
			Containers: []corev1.Container{{Name: "reader",
				VolumeMounts: []corev1.VolumeMount{{Name: "model", MountPath: "/model", ReadOnly: true}}}},
		}
		b.Run("layers="+layers, func(b *testing.B) {
			b.ReportMetric(float64(len(out.Layers)), "layers")
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c.run("rmi", out.Reference) // absent on the first pass
				b.StartTimer()
				files := c.readVolumes(b, "bench-"+layers, spec, "reader", pause, "/model")
				if len(files) == 0 {
					b.Fatal("the reader saw no files")
				}
			}
		})
	}
}
