package pack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/pack"
)

// TestRunProgress: each phase's reports are monotonic while layers build
// and upload concurrently (an early upload among them), the build's total
// comes with its first report, the upload's never changes once known, and
// each phase ends with one Done report at its total. A second push, where
// the registry has every blob, counts them as complete.
func TestRunProgress(t *testing.T) {
	host := testregistry.New(t)
	dir := site(t)
	for i := range 30 { // several layers, built and uploaded in parallel
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("page%02d.html", i)), []byte(fmt.Sprintf("<p>%d</p>\n", i)), 0o644)
	}
	for _, run := range []string{"first", "again"} {
		t.Run(run, func(t *testing.T) {
			var mu sync.Mutex
			var got []pack.Progress
			res, err := pack.Run(context.Background(), pack.Spec{Source: dir, Image: image(), Tags: []string{host + "/web/progress:v1"},
				Progress: func(p pack.Progress) {
					if !mu.TryLock() {
						t.Error("progress reports overlap")
						return
					}
					got = append(got, p)
					mu.Unlock()
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			last := map[pack.Phase]pack.Progress{}
			for i, p := range got {
				prev, seen := last[p.Phase]
				switch {
				case prev.Done:
					t.Fatalf("report %d after the phase was done: %+v", i, p)
				case p.Phase == pack.PhaseBuild && (!p.TotalKnown || p.Total != res.Build.FileBytes):
					t.Fatalf("build report %d: %+v, want the total %d from the first report", i, p, res.Build.FileBytes)
				case seen && p.Complete < prev.Complete:
					t.Fatalf("report %d went back: %+v after %+v", i, p, prev)
				case seen && prev.TotalKnown && (p.Total != prev.Total || !p.TotalKnown):
					t.Fatalf("report %d changed a known total: %+v after %+v", i, p, prev)
				case p.TotalKnown && p.Complete > p.Total:
					t.Fatalf("report %d past its total: %+v", i, p)
				}
				last[p.Phase] = p
			}
			for _, ph := range []pack.Phase{pack.PhaseBuild, pack.PhaseUpload} {
				if p := last[ph]; !p.Done || p.Complete != p.Total || p.Total == 0 {
					t.Errorf("%s ended at %+v, want Done at its total", ph, p)
				}
			}
			if up := last[pack.PhaseUpload]; up.Total != blobBytes(t, res) {
				t.Errorf("upload total %d, want the blobs' %d", up.Total, blobBytes(t, res))
			}
		})
	}
}

// blobBytes adds up the sizes of the image's layers and config.
func blobBytes(t *testing.T, res *pack.Result) int64 {
	t.Helper()
	var n int64
	for _, l := range res.Build.Layers {
		sz, _ := l.Size()
		n += sz
	}
	cfg, err := res.Build.Image.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return n + int64(len(cfg))
}
