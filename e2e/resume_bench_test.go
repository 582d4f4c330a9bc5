//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBigModelResume pushes a 10 GiB incompressible model (one 5 GiB
// shard and five of 1 GiB) with build --push through the quirk proxy, which
// resets the connection once, at 50% of the largest blob, and reports the
// bytes sent against the image's size and the peak RSS of the assetpack
// process (reported, not asserted; the target is at most 1.1x and under
// 100 MiB). The model is $ASSETPACK_BENCH_MODEL10 when set, else generated
// in a temporary directory (10 GiB of disk, and as much again for the
// registry; both removed at the end). Run it once:
//
//	go test -tags e2e -run '^$' -bench BigModelResume -benchtime 1x ./e2e/
func BenchmarkBigModelResume(b *testing.B) {
	model := os.Getenv("ASSETPACK_BENCH_MODEL10")
	if model == "" {
		model = filepath.Join(b.TempDir(), "model")
		start := time.Now()
		if err := generateBigModel(model); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated the 10 GiB model in %v", time.Since(start).Round(time.Second))
	}
	largest := largestFile(b, model)
	reg := startRegistry(b, registryOpts{})
	crane := tool(b, "crane")
	work := b.TempDir()
	for i := 0; i < b.N; i++ {
		// Bodies (the shards stream while they are hashed) are cut at half
		// the largest shard: only that one goes that far.
		p := newQuirkProxy(b, reg.Host, quirks{}, largest/2)
		p.cutMin = largest / 2
		ref := fmt.Sprintf("%s/bench/model:run%d", p.host, i)
		cmd := exec.Command(bin, "build", model, "--git=false", "--no-cache", "-t", ref, "--push", "--json")
		cmd.Dir = work
		if os.Getenv("ASSETPACK_BENCH_DEBUG") != "" {
			cmd.Env = append(os.Environ(), "ASSETPACK_DEBUG=1")
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		if log := os.Getenv("ASSETPACK_BENCH_DEBUG"); log != "" {
			os.WriteFile(log, []byte(stderr.String()), 0o644)
		}
		if err != nil {
			b.Fatalf("push: %v\n%s", err, stderr.String())
		}
		elapsed := time.Since(start)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		var j buildJSON
		if err := json.Unmarshal([]byte(stdout.String()), &j); err != nil {
			b.Fatal(err)
		}
		size := imageBlobBytes(b, crane, strings.Replace(ref, p.host, reg.Host, 1))
		sent := p.bytesSent()
		b.ReportMetric(float64(sent)/float64(size), "sent/size")
		b.ReportMetric(float64(rss)/1024, "peakRSS-MiB")
		b.ReportMetric(elapsed.Seconds(), "s/push")
		b.Logf("pushed %s: %d bytes of blobs, %d sent (%.4fx), %d reset(s), peak RSS %.1f MiB, %v",
			j.Digest, size, sent, float64(sent)/float64(size), p.count("reset"), float64(rss)/1024, elapsed.Round(time.Millisecond))
		if p.count("reset") != 1 {
			b.Errorf("%d resets, want 1 (at 50%% of the largest blob)", p.count("reset"))
		}
	}
}

// generateBigModel writes one 5 GiB shard and five of 1 GiB (10 GiB,
// ChaCha8) and a config.
func generateBigModel(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["BigQuirk"],"shards":6}`+"\n"), 0o644)
	if err := writeNoise(filepath.Join(dir, "model-00001-of-00006.safetensors"), 5<<30, 11); err != nil {
		return err
	}
	for i := 2; i <= 6; i++ {
		if err := writeNoise(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00006.safetensors", i)), 1<<30, byte(10+i)); err != nil {
			return err
		}
	}
	return nil
}

// imageBlobBytes adds up the blobs of the image at ref, as its manifest
// lists them.
func imageBlobBytes(tb testing.TB, crane, ref string) int64 {
	tb.Helper()
	var m struct {
		Config struct{ Size int64 }   `json:"config"`
		Layers []struct{ Size int64 } `json:"layers"`
	}
	if err := json.Unmarshal([]byte(run(tb, "/", crane, "manifest", "--insecure", ref)), &m); err != nil {
		tb.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// largestFile is the size of the largest file in dir.
func largestFile(tb testing.TB, dir string) int64 {
	tb.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n = max(n, info.Size())
		}
		return nil
	})
	return n
}
