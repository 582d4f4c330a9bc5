package publish_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
)

// TestUploaderOverlapsBuild: layers handed over while the build runs are
// uploaded before the push, counted as sent (not skipped), and the image
// reads back whole.
func TestUploaderOverlapsBuild(t *testing.T) {
	var heads, puts atomic.Int64
	host := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/blobs/") {
				switch req.Method {
				case http.MethodHead:
					heads.Add(1)
				case http.MethodPut:
					puts.Add(1)
				}
			}
			h.ServeHTTP(w, req)
		})
	})
	var last publish.Progress
	var calls int
	r, err := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithProgress(func(p publish.Progress) { last = p; calls++ }))
	if err != nil {
		t.Fatal(err)
	}
	ts := tags(t, r, host+"/web/site:v1", host+"/mirror/site:v1")
	up, err := r.NewUploader(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	var early atomic.Int64
	res := newImage(t, builder.WithCompression(builder.None), builder.WithDeferredLayers(true),
		builder.WithLayerDone(func(l *builder.Layer) { early.Add(1); up.Add(l); up.Add(l) }))
	if early.Load() != int64(len(res.Layers)) {
		t.Fatalf("WithLayerDone saw %d layers of %d", early.Load(), len(res.Layers))
	}
	pr, err := up.Push(context.Background(), res.Artifact(), ts)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := res.Layers[0].Size()
	cfg, _ := res.Image.RawConfigFile()
	if want := size + int64(len(cfg)); pr.SentBytes != want {
		t.Errorf("SentBytes = %d, want the layer once and the config (%d)", pr.SentBytes, want)
	}
	if pr.SkippedBlobs != 2 { // only the mirror's mounts
		t.Errorf("SkippedBlobs = %d, want 2 (the mirror's mounts); early uploads are not skips", pr.SkippedBlobs)
	}
	if size, _ := res.Layers[0].Size(); calls == 0 || last.Total < size || last.Complete != last.Total {
		t.Errorf("progress: %d calls, last %+v; want it to end complete", calls, last)
	}
	if puts.Load() != 2 {
		t.Errorf("%d blob uploads, want 2 (layer added twice is uploaded once, and the config)", puts.Load())
	}
	for _, tag := range ts {
		img, err := remote.Image(tag)
		if err != nil {
			t.Fatal(err)
		}
		// validate.Image would gunzip the plain-tar layer: check digests.
		if d, _ := img.Digest(); d != res.Digest {
			t.Errorf("%s: digest %s, want %s", tag, d, res.Digest)
		}
		ls, _ := img.Layers()
		rc, err := ls[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if want, _ := res.Layers[0].Digest(); err != nil || h != want {
			t.Errorf("%s: layer reads back as %s (%v), want %s", tag, h, err, want)
		}
	}
}

// TestUploaderFails: an upload that fails makes Push fail with the
// registry's answer, and no tag is written.
func TestUploaderFails(t *testing.T) {
	host := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPatch || (req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/")) {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"quota exceeded"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	ts := tags(t, r, host+"/web/site:v1")
	up, _ := r.NewUploader(context.Background(), ts)
	defer up.Abort()
	res := newImage(t, builder.WithLayerDone(func(l *builder.Layer) { up.Add(l) }))
	_, err := up.Push(context.Background(), res.Artifact(), ts)
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") || !strings.Contains(err.Error(), host+"/web/site") {
		t.Fatalf("Push after a failed upload = %v, want the registry's message and the repository", err)
	}
	if _, err := remote.Head(ts[0]); err == nil {
		t.Error("the tag exists after a failed upload")
	}
	var cancelled bool
	ctx, cancel := context.WithCancel(context.Background())
	up2, _ := r.NewUploader(ctx, ts)
	cancel()
	up2.Add(res.Layers[0])
	_, err = up2.Push(context.Background(), res.Artifact(), ts)
	cancelled = errors.Is(err, context.Canceled)
	if !cancelled {
		t.Errorf("Push after the uploader's context was cancelled = %v, want context.Canceled", err)
	}
}

// TestUploaderIndex: an image index pushed through the uploader checks each
// blob once, and reads back whole.
func TestUploaderIndex(t *testing.T) {
	var heads atomic.Int64
	host := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/blobs/") {
				heads.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	})
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	ts := tags(t, r, host+"/web/multi:v1")
	up, _ := r.NewUploader(context.Background(), ts)
	defer up.Abort()
	res := newImage(t, builder.WithPlatforms(v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}),
		builder.WithLayerDone(func(l *builder.Layer) { up.Add(l) }))
	pr, err := up.Push(context.Background(), res.Artifact(), ts)
	if err != nil {
		t.Fatal(err)
	}
	blobs := int64(len(res.Layers) + 2) // shared layers, two configs
	if heads.Load() != blobs {
		t.Errorf("%d HEAD requests for %d blobs, want one each", heads.Load(), blobs)
	}
	if pr.SkippedBlobs != 0 || pr.SentBytes == 0 {
		t.Errorf("PushResult = %+v", pr)
	}
	idx, err := remote.Index(ts[0])
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != res.Digest {
		t.Errorf("index digest %s, want %s", d, res.Digest)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index = %v", err)
	}
}
