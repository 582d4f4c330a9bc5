package builder_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/assetpack/assetpack/builder"
)

// TestProgress: the plan comes first and never changes; Encoded never
// goes back, even with layers built in parallel, and ends at the plan's
// bytes, with a build cache or without.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	var want int64
	for i := range 40 {
		b := []byte(strings.Repeat(fmt.Sprint(i), 1000*(i+1)))
		want += int64(len(b))
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), b, 0o644)
	}
	big := make([]byte, 33<<20) // a layer of its own
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
	want += int64(len(big))
	cache := t.TempDir()
	for _, run := range []string{"cold", "cached"} {
		t.Run(run, func(t *testing.T) {
			var mu sync.Mutex
			var got []builder.Progress
			res, err := builder.Build(context.Background(), dir, builder.WithGit(false), builder.WithJobs(4), builder.WithCache(cache),
				builder.WithProgress(func(p builder.Progress) {
					if !mu.TryLock() {
						t.Error("progress calls overlap")
						return
					}
					got = append(got, p)
					mu.Unlock()
				}))
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			defer res.Close()
			if len(got) < 2 {
				t.Fatalf("got %d reports, want the plan and more", len(got))
			}
			plan := got[0]
			if plan.Encoded != 0 || plan.Files != 41 || plan.Bytes != want || plan.Layers != len(res.Layers) || plan.Layers < 2 {
				t.Errorf("first report %+v, want the plan: 41 files, %d bytes, %d layers, nothing encoded", plan, want, len(res.Layers))
			}
			for i, p := range got[1:] {
				prev := got[i]
				if p.Files != plan.Files || p.Bytes != plan.Bytes || p.Layers != plan.Layers {
					t.Fatalf("report %d changed the plan: %+v", i+1, p)
				}
				if p.Encoded < prev.Encoded || p.Encoded > p.Bytes || p.LayersDone < prev.LayersDone {
					t.Fatalf("report %d went back or past the plan: %+v after %+v", i+1, p, prev)
				}
			}
			if last := got[len(got)-1]; last.Encoded != want || last.LayersDone != plan.Layers {
				t.Errorf("last report %+v, want every byte and layer done", last)
			}
		})
	}
}
