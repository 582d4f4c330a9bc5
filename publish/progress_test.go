package publish_test

import (
	"context"
	"sync"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// TestPushProgress: a push of an image already built knows its total from
// the first report (every blob, in each repository), counts never go back
// or past it, and end at it; an unchanged re-push counts the blobs the
// registry has as complete.
func TestPushProgress(t *testing.T) {
	host := testregistry.New(t)
	res := newImage(t)
	var want int64
	for _, l := range res.Layers {
		sz, _ := l.Size()
		want += sz
	}
	cfg, _ := res.Image.RawConfigFile()
	want += int64(len(cfg))
	for _, run := range []string{"first", "again"} {
		t.Run(run, func(t *testing.T) {
			var mu sync.Mutex
			var got []publish.Progress
			r, err := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithJobs(3), publish.WithProgress(func(p publish.Progress) {
				if !mu.TryLock() {
					t.Error("progress calls overlap")
					return
				}
				got = append(got, p)
				mu.Unlock()
			}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Push(context.Background(), res.Artifact(), tags(t, r, host+"/web/site:v1", host+"/mirror/site:v1")); err != nil {
				t.Fatalf("Push() = %v", err)
			}
			if len(got) == 0 {
				t.Fatal("no progress reported")
			}
			for i, p := range got {
				if !p.TotalKnown || p.Total != 2*want {
					t.Fatalf("report %d: %+v, want the total %d (two repositories) from the first report", i, p, 2*want)
				}
				if p.Complete > p.Total || i > 0 && p.Complete < got[i-1].Complete {
					t.Fatalf("report %d went back or past the total: %+v after %+v", i, p, got[max(i-1, 0)])
				}
			}
			if last := got[len(got)-1]; last.Complete != last.Total {
				t.Errorf("last report %+v, want every byte counted", last)
			}
		})
	}
}
