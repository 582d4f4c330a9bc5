package publish_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// TestUploaderOverlapsBuild: layers handed over while the build runs are
// uploaded before the push, counted as sent (not skipped), and the image
// reads back whole.
func TestUploaderOverlapsBuild(t *testing.T) {
	host, c := countingServer(t)
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
	res := newImage(t, builder.WithCompression(builder.None), builder.WithHooks(hooks.Build{Deferred: true,
		LayerDone: func(l v1.Layer) { early.Add(1); up.Add(l); up.Add(l) }}))
	if early.Load() != int64(len(res.Layers)) {
		t.Fatalf("LayerDone saw %d layers of %d", early.Load(), len(res.Layers))
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
	if c.puts.Load() != 2 {
		t.Errorf("%d blob uploads, want 2 (layer added twice is uploaded once, and the config)", c.puts.Load())
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

// buildAndPush builds newImage's tree, hands each layer to an Uploader as
// soon as it is built, and pushes the image to ref.
func buildAndPush(t *testing.T, r *publish.Registry, ref string) (*builder.Result, []name.Tag, *publish.PushResult, error) {
	t.Helper()
	ts := tags(t, r, ref)
	up, err := r.NewUploader(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	res := newImage(t, builder.WithHooks(hooks.Build{LayerDone: func(l v1.Layer) { up.Add(l) }}))
	pr, err := up.Push(context.Background(), res.Artifact(), ts)
	return res, ts, pr, err
}

// TestUploaderFails: an upload that fails makes Push fail with the
// registry's answer, and no tag is written.
func TestUploaderFails(t *testing.T) {
	host := testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPatch || (req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/")) {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"quota exceeded"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, req)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	res, ts, _, err := buildAndPush(t, r, host+"/web/site:v1")
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
	host := testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/blobs/") {
				heads.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	ts := tags(t, r, host+"/web/multi:v1")
	up, _ := r.NewUploader(context.Background(), ts)
	defer up.Abort()
	res := newImage(t, builder.WithPlatforms(v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}),
		builder.WithHooks(hooks.Build{LayerDone: func(l v1.Layer) { up.Add(l) }}))
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

// registryReadLayer offers a separate read for registries, like
// builder.Layer; body, when set, is what that read returns instead of the
// layer's bytes (a file that changed after it was hashed).
type registryReadLayer struct {
	extLayer
	calls atomic.Int64
	body  []byte
}

func (l *registryReadLayer) CompressedForRegistry() (io.ReadCloser, error) {
	l.calls.Add(1)
	if l.body != nil {
		return io.NopCloser(bytes.NewReader(l.body)), nil
	}
	return l.Layer.Compressed()
}

// TestUploaderReadsForRegistry: the uploader reads a layer through
// CompressedForRegistry (the registry checks the digest), and bytes that do
// not match the digest make the push fail with ErrDigestMismatch and a hint,
// not a tag.
func TestUploaderReadsForRegistry(t *testing.T) {
	host := testregistry.New(t)
	// With progress reporting, which wraps the layer once more.
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithProgress(func(publish.Progress) {}))
	for _, tc := range []struct {
		name   string
		change bool
	}{{"same-bytes", false}, {"changed-bytes", true}} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := random.Layer(4096, types.OCIUncompressedLayer)
			if err != nil {
				t.Fatal(err)
			}
			l := &registryReadLayer{extLayer: extLayer{base}}
			if tc.change {
				rc, _ := base.Compressed()
				l.body, _ = io.ReadAll(rc)
				rc.Close()
				l.body[100] ^= 0xff
			}
			img, err := mutate.AppendLayers(empty.Image, l)
			if err != nil {
				t.Fatal(err)
			}
			ts := tags(t, r, host+"/web/"+tc.name+":v1")
			up, _ := r.NewUploader(context.Background(), ts)
			defer up.Abort()
			up.Add(l)
			_, err = up.Push(context.Background(), img, ts)
			if l.calls.Load() == 0 {
				t.Fatal("the uploader did not read the layer through CompressedForRegistry")
			}
			if l.body == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, publish.ErrDigestMismatch) || !strings.Contains(err.Error(), "changed while it was uploaded") {
				t.Fatalf("Push of bytes that do not match the digest = %v, want ErrDigestMismatch with a hint", err)
			}
			if _, err := remote.Head(ts[0]); err == nil {
				t.Error("the tag exists after a refused upload")
			}
		})
	}
}

// extLayer makes any v1.Layer a publish.Layer that is not cached, has no
// predicted digest and reads for registries as it reads otherwise; the test
// layers below embed it and change one method.
type extLayer struct{ v1.Layer }

func (extLayer) Cached() bool                                    { return false }
func (extLayer) Predicted() (v1.Hash, bool)                      { return v1.Hash{}, false }
func (l extLayer) CompressedForRegistry() (io.ReadCloser, error) { return l.Layer.Compressed() }

// builder.Layer is the Layer that publish is written for.
var _ publish.Layer = (*builder.Layer)(nil)

// cachedLayer is a layer whose digest came from the build cache.
type cachedLayer struct{ extLayer }

func (cachedLayer) Cached() bool { return true }

// TestUploaderCachedLayers: an unchanged rebuild (every layer from the build
// cache) costs one HEAD for the manifest instead of one per blob, and counts
// the layers as skipped; where the manifest is missing, every blob is
// checked and sent as usual.
func TestUploaderCachedLayers(t *testing.T) {
	var blobHeads, manifestHeads, blobPuts atomic.Int64
	host := testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			switch {
			case req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/blobs/"):
				blobHeads.Add(1)
			case req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/sha256:"):
				manifestHeads.Add(1)
			case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/"):
				blobPuts.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	}))
	var ls []v1.Layer
	for i := 0; i < 5; i++ {
		l, err := random.Layer(2048, types.OCIUncompressedLayer)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, cachedLayer{extLayer{l}})
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	var last publish.Progress
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithProgress(func(p publish.Progress) { last = p }))
	push := func(ref string) *publish.PushResult {
		t.Helper()
		blobHeads.Store(0)
		manifestHeads.Store(0)
		blobPuts.Store(0)
		ts := tags(t, r, ref)
		up, _ := r.NewUploader(context.Background(), ts)
		defer up.Abort()
		for _, l := range ls {
			up.Add(l)
		}
		pr, err := up.Push(context.Background(), img, ts)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img.Digest(); pr.Digest != d {
			t.Fatalf("pushed %s, want %s", pr.Digest, d)
		}
		return pr
	}

	// The registry lacks the manifest: every blob is checked and sent.
	first := push(host + "/web/cached:v1")
	if blobPuts.Load() != int64(len(ls)+1) || first.SkippedBlobs != 0 {
		t.Fatalf("first push: %d blob uploads, %d skipped; want %d, 0", blobPuts.Load(), first.SkippedBlobs, len(ls)+1)
	}
	if last.Complete != last.Total || last.Total == 0 {
		t.Errorf("first push progress ended at %+v", last)
	}

	// Unchanged: one HEAD for the manifest, none per blob, nothing sent.
	again := push(host + "/web/cached:v2")
	if blobHeads.Load() != 0 || blobPuts.Load() != 0 {
		t.Errorf("unchanged push: %d blob HEADs, %d uploads; want none", blobHeads.Load(), blobPuts.Load())
	}
	if manifestHeads.Load() < 1 {
		t.Errorf("unchanged push: no HEAD for the manifest by digest")
	}
	if again.SkippedBlobs != int64(len(ls)+1) || again.SentBytes != 0 {
		t.Errorf("unchanged push: %+v; want %d skipped (layers and config), 0 bytes sent", again, len(ls)+1)
	}
	if last.Complete != last.Total || last.Total == 0 {
		t.Errorf("unchanged push progress ended at %+v", last)
	}
	if got, err := remote.Image(tags(t, r, host+"/web/cached:v2")[0]); err != nil {
		t.Fatal(err)
	} else if err := validate.Image(got, validate.Fast); err != nil {
		t.Errorf("validate.Image = %v", err)
	}

	// Another repository lacks the manifest: blobs are checked again.
	push(host + "/other/cached:v1")
	if blobHeads.Load() < int64(len(ls)) {
		t.Errorf("push to a new repository: %d blob HEADs, want one per layer at least", blobHeads.Load())
	}
}

// TestUploaderChangedAfterTag: after a change, the tag still points at the
// previous image, whose blobs the registry holds; the cached layers that
// image names need no HEAD of their own (one GET of the tag settles them),
// for an image and for an index alike. A tag whose image shares nothing
// settles nothing.
func TestUploaderChangedAfterTag(t *testing.T) {
	var blobHeads, blobPuts atomic.Int64
	host := testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			switch {
			case req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/blobs/"):
				blobHeads.Add(1)
			case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/"):
				blobPuts.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	}))
	layers := func(n int) []v1.Layer {
		var ls []v1.Layer
		for i := 0; i < n; i++ {
			l, err := random.Layer(2048, types.OCIUncompressedLayer)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, cachedLayer{extLayer{l}})
		}
		return ls
	}
	image := func(ls []v1.Layer) v1.Image {
		img, err := mutate.AppendLayers(empty.Image, ls...)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	push := func(ref string, art publish.Artifact, ls []v1.Layer) {
		t.Helper()
		blobHeads.Store(0)
		blobPuts.Store(0)
		ts := tags(t, r, ref)
		up, _ := r.NewUploader(context.Background(), ts)
		defer up.Abort()
		for _, l := range ls {
			up.Add(l)
		}
		pr, err := up.Push(context.Background(), art, ts)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := art.Digest(); pr.Digest != d {
			t.Fatalf("pushed %s, want %s", pr.Digest, d)
		}
		got, err := remote.Get(ts[0])
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := art.Digest(); got.Digest != d {
			t.Fatalf("the tag points at %s, want %s", got.Digest, d)
		}
	}

	// An image: four cached layers kept, one new layer that is not cached.
	old := layers(5)
	push(host+"/web/changed:v1", image(old), old)
	fresh, err := random.Layer(2048, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	changed := append(append([]v1.Layer{}, old[:4]...), extLayer{fresh})
	push(host+"/web/changed:v1", image(changed), changed)
	// The new layer and the new config are checked and sent; the four kept
	// layers are neither.
	if blobHeads.Load() != 2 || blobPuts.Load() != 2 {
		t.Errorf("push after one layer changed: %d blob HEADs and %d uploads, want 2 and 2 (the new layer and config)", blobHeads.Load(), blobPuts.Load())
	}

	// An index of two images; then one layer of one image changes.
	a, b := layers(3), layers(3)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: image(a), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: image(b), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	push(host+"/web/index:v1", idx, append(append([]v1.Layer{}, a...), b...))
	fresh2, err := random.Layer(2048, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	b2 := append(append([]v1.Layer{}, b[:2]...), extLayer{fresh2})
	idx2 := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: image(a), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: image(b2), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	push(host+"/web/index:v1", idx2, append(append([]v1.Layer{}, a...), b2...))
	// Checked: the new layer and the changed image's config (the unchanged
	// image's config was in the old index too).
	if blobHeads.Load() != 2 || blobPuts.Load() != 2 {
		t.Errorf("index push after one layer changed: %d blob HEADs and %d uploads, want 2 and 2", blobHeads.Load(), blobPuts.Load())
	}

	// The tag points at an image that shares nothing: every blob is checked.
	other := layers(3)
	push(host+"/web/changed:v1", image(other), other)
	if blobHeads.Load() != 4 || blobPuts.Load() != 4 {
		t.Errorf("push of an unrelated image over a tag: %d blob HEADs and %d uploads, want 4 and 4", blobHeads.Load(), blobPuts.Load())
	}
}

// TestUploaderMonolithic: a blob the registry lacks goes up in two requests
// (POST, then a PUT that carries the bytes); a registry that refuses a PUT
// with a body still gets every blob, streamed in a PATCH, and is not sent a
// monolithic PUT again in the same push (one blob at a time here, so that
// the second starts after the first was refused).
func TestUploaderMonolithic(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse-monolithic=%v", refuse), func(t *testing.T) {
			var refused atomic.Int64
			host, c := countingServer(t, func(w http.ResponseWriter, req *http.Request) bool {
				if refuse && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && req.ContentLength > 0 {
					refused.Add(1)
					http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"monolithic uploads are not supported"}]}`, http.StatusBadRequest)
					return true
				}
				return false
			})
			var notes []string
			r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithJobs(1), publish.WithNotes(func(n string) { notes = append(notes, n) }))
			res, ts, pr, err := buildAndPush(t, r, host+"/web/mono:v1")
			if err != nil {
				t.Fatal(err)
			}
			blobs := int64(len(res.Layers) + 1) // and the config
			wantPatches, wantPuts := int64(0), blobs
			if refuse {
				// A refused PUT for each blob already uploading when the
				// first refusal came (one upload slot, and the slot of small
				// blobs: at most 2), then PATCH + PUT for each.
				if n := refused.Load(); n < 1 || n > 2 {
					t.Errorf("%d monolithic PUTs refused; want 1, or 2 for two blobs uploading at once", n)
				}
				wantPatches, wantPuts = blobs, blobs+refused.Load()
				if countNotes(notes, "refused a blob in one PUT") != 1 {
					t.Errorf("notes %q, want one saying the registry refused a monolithic PUT", notes)
				}
			}
			if c.patches.Load() != wantPatches || c.puts.Load() != wantPuts {
				t.Errorf("%d POST, %d PATCH, %d PUT for %d blobs; want %d PATCH, %d PUT", c.posts.Load(), c.patches.Load(), c.puts.Load(), blobs, wantPatches, wantPuts)
			}
			var size int64
			for _, l := range res.Layers {
				s, _ := l.Size()
				size += s
			}
			if pr.SentBytes < size || pr.SkippedBlobs != 0 {
				t.Errorf("PushResult %+v; want the layers' %d bytes sent, nothing skipped", pr, size)
			}
			img, err := remote.Image(ts[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("the image does not read back whole: %v", err)
			}
		})
	}
}

// loggedRegistry is a registry with bearer tokens (its token server on its
// own host, or on realmHost when set) that logs every request as "METHOD
// PATH"; anonymous turns the authentication off.
type loggedRegistry struct {
	host      string
	realmHost string
	mu        sync.Mutex
	log       []string
	anonymous atomic.Bool
}

func newLoggedRegistry(t *testing.T) *loggedRegistry {
	lr := &loggedRegistry{}
	lr.host = testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			lr.mu.Lock()
			lr.log = append(lr.log, req.Method+" "+req.URL.Path)
			lr.mu.Unlock()
			if req.URL.Path == "/token" {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"token":"t0ken"}`)
				return
			}
			if !lr.anonymous.Load() && req.Header.Get("Authorization") != "Bearer t0ken" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, cmp.Or(lr.realmHost, req.Host)))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, req)
		})
	}))
	return lr
}

// cachedImage is an image of n small layers from the build cache (so an
// Uploader holds them back until Push).
func cachedImage(t *testing.T, n int) (v1.Image, []v1.Layer) {
	t.Helper()
	var ls []v1.Layer
	for i := 0; i < n; i++ {
		l, _ := random.Layer(2048, types.DockerLayer)
		ls = append(ls, cachedLayer{extLayer{l}})
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img, ls
}

// push pushes img (of layers ls) to ref with an Uploader of r, and returns
// the requests it made, sorted.
func (lr *loggedRegistry) push(t *testing.T, r *publish.Registry, ref string, img v1.Image, ls []v1.Layer) []string {
	t.Helper()
	lr.mu.Lock()
	lr.log = nil
	lr.mu.Unlock()
	ts := tags(t, r, ref)
	up, _ := r.NewUploader(context.Background(), ts)
	defer up.Abort()
	for _, l := range ls {
		up.Add(l)
	}
	if _, err := up.Push(context.Background(), img, ts); err != nil {
		t.Fatal(err)
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return slices.Sorted(slices.Values(lr.log))
}

func countPrefix(reqs []string, prefix string) (n int) {
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func pings(reqs []string) (n int) {
	for _, r := range reqs {
		if r == "GET /v2/" {
			n++
		}
	}
	return n
}

// TestUploaderOneSession: against a registry with bearer tokens, a push
// pings the registry and fetches a token once, however many calls it makes
// (blob checks and uploads, manifest, read-back); an unchanged re-push then
// makes, after its ping and token, one GET of the tag, whose answer is
// also the read-back (TestPingMemory: with a remembered ping, a HEAD while
// the build walks).
func TestUploaderOneSession(t *testing.T) {
	lr := newLoggedRegistry(t)
	host := lr.host
	img, ls := cachedImage(t, 4)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(authn.NewMultiKeychain()))
	first := lr.push(t, r, host+"/web/session:v1", img, ls)
	if pings(first) != 1 || countPrefix(first, "GET /token") != 1 {
		t.Errorf("first push: %d pings, %d token requests; want 1 each\n%s", pings(first), countPrefix(first, "GET /token"), strings.Join(first, "\n"))
	}
	if countPrefix(first, "PUT /v2/web/session/blobs/uploads/") != len(ls)+1 {
		t.Errorf("first push did not upload every blob:\n%s", strings.Join(first, "\n"))
	}
	// Unchanged, same tag: the session, then the tag (a GET: were it
	// another image, its blobs would need no HEAD); it already points at
	// the image, so the digest needs no HEAD, and there is nothing to PUT
	// and nothing more to read back.
	d, _ := img.Digest()
	again := lr.push(t, r, host+"/web/session:v1", img, ls)
	want := []string{"GET /token", "GET /v2/", "GET /v2/web/session/manifests/v1"}
	if !slices.Equal(again, want) {
		t.Errorf("unchanged re-push made\n%s\nwant\n%s", strings.Join(again, "\n"), strings.Join(want, "\n"))
	}

	// Unchanged, but the tag points at another image: it is moved back,
	// and read back after the PUT.
	other, _ := random.Image(512, 1)
	ts := tags(t, r, host+"/web/session:v1")
	if _, err := r.Push(context.Background(), other, ts); err != nil {
		t.Fatal(err)
	}
	moved := lr.push(t, r, host+"/web/session:v1", img, ls)
	if countPrefix(moved, "PUT /v2/web/session/manifests/v1") != 1 || countPrefix(moved, "GET /v2/web/session/manifests/v1") != 1 || countPrefix(moved, "HEAD /v2/web/session/manifests/v1") != 1 ||
		countPrefix(moved, "HEAD /v2/web/session/manifests/"+d.String()) != 1 {
		t.Errorf("re-push to a moved tag made\n%s\nwant a GET of the tag and a HEAD of the digest before, a PUT of the tag, and a HEAD of the tag after", strings.Join(moved, "\n"))
	}
	if desc, err := remote.Head(ts[0]); err != nil || desc.Digest != d {
		t.Errorf("the tag points at %v (%v), want %s", desc, err, d)
	}
}

// TestPushLeavesForeignLayers: Registry.Push (now through an Uploader) does
// not upload non-distributable layers, as ggcr's Write did not.
func TestPushLeavesForeignLayers(t *testing.T) {
	host, c := countingServer(t)
	foreign, _ := random.Layer(1024, types.DockerForeignLayer)
	plain, _ := random.Layer(1024, types.DockerLayer)
	img, err := mutate.AppendLayers(empty.Image, foreign, plain)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	if _, err := r.Push(context.Background(), img, tags(t, r, host+"/web/foreign:v1")); err != nil {
		t.Fatal(err)
	}
	if c.puts.Load() != 2 { // the plain layer and the config
		t.Errorf("%d blob uploads, want 2: the foreign layer stays out", c.puts.Load())
	}
}
