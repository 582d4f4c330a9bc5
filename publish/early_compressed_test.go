package publish_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/publish"
)

// tagLists counts the tag listings a registry receives; refuse, when set,
// answers them with 403 DENIED.
func tagLists(refuse bool) (*atomic.Int64, func(http.ResponseWriter, *http.Request) bool) {
	n := &atomic.Int64{}
	return n, func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.HasSuffix(req.URL.Path, "/tags/list") {
			return false
		}
		n.Add(1)
		if req.URL.Query().Get("n") != "1" {
			w.WriteHeader(http.StatusBadRequest) // the uploader asks for one tag, not for all of them
			return true
		}
		if refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errors":[{"code":"DENIED","message":"no listing here"}]}`)
			return true
		}
		return false
	}
}

// TestEarlyUploadCompressed: a compressed layer streams while it is being
// encoded only into a repository with no tag, where the registry can have
// none of its blobs. In a tagged repository, or one whose tags cannot be
// listed, it waits for its digest and is checked (HEAD) and uploaded
// whole, so that a layer the registry has costs no bytes.
func TestEarlyUploadCompressed(t *testing.T) {
	lists, intercept := tagLists(false)
	host, c := countingServer(t, intercept)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	l, _ := random.Layer(64<<10, types.OCILayer) // gzip
	body := blobBytes(t, l)
	slow := func() io.ReadCloser {
		return io.NopCloser(&slowReader{r: bytes.NewReader(body), delay: time.Millisecond, max: 4096})
	}

	// A new repository: the layer streams before its digest is known.
	pr, err := pushEarly(t, r, host+"/web/fresh:v1", l, slow, c, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.patches.Load() != 1 {
		t.Errorf("%d PATCH requests into a new repository; want the layer streamed early once", c.patches.Load())
	}
	if lists.Load() != 1 {
		t.Errorf("%d tag listings; want one per push", lists.Load())
	}
	if size, _ := l.Size(); pr.SentBytes < size {
		t.Errorf("PushResult %+v; want the layer's %d bytes sent", pr, size)
	}
	readsBack(t, r, host+"/web/fresh:v1", body)

	// The same layer into that repository, now tagged: nothing streams, the
	// HEAD finds the blob, and no byte of it is sent.
	c.patches.Store(0)
	c.puts.Store(0)
	pr, err = pushEarly(t, r, host+"/web/fresh:v2", l, slow, c, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.patches.Load() != 0 || c.puts.Load() != 0 {
		t.Errorf("%d PATCH, %d blob PUT requests into a tagged repository that has the layer; want none", c.patches.Load(), c.puts.Load())
	}
	if pr.SkippedBlobs < 1 {
		t.Errorf("PushResult %+v; want the layer skipped", pr)
	}

	// A new layer into the tagged repository: uploaded whole once its
	// digest is known (POST, PUT), not streamed.
	l2, _ := random.Layer(64<<10, types.OCILayer)
	body2 := blobBytes(t, l2)
	if _, err := pushEarly(t, r, host+"/web/fresh:v3", l2, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body2)) }, c, false); err != nil {
		t.Fatal(err)
	}
	if c.patches.Load() != 0 {
		t.Errorf("%d PATCH requests into a tagged repository; want the new layer uploaded whole", c.patches.Load())
	}
	readsBack(t, r, host+"/web/fresh:v3", body2)
}

// TestEarlyUploadCompressedUnlisted: a repository whose tags cannot be
// listed counts as tagged: nothing streams before the digest is known.
func TestEarlyUploadCompressedUnlisted(t *testing.T) {
	lists, intercept := tagLists(true)
	host, c := countingServer(t, intercept)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	l, _ := random.Layer(64<<10, types.OCILayer)
	body := blobBytes(t, l)
	if _, err := pushEarly(t, r, host+"/web/unlisted:v1", l, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }, c, false); err != nil {
		t.Fatal(err)
	}
	if lists.Load() != 1 || c.patches.Load() != 0 {
		t.Errorf("%d tag listings, %d PATCH requests; want one listing (refused) and no early stream", lists.Load(), c.patches.Load())
	}
	readsBack(t, r, host+"/web/unlisted:v1", body)
}

// oneSlot is an uploader with one upload slot, into a new repository, and
// two compressed layers: a is streaming and holds the slot until release
// is closed; b is not started.
type oneSlot struct {
	c            *blobCounts
	r            *publish.Registry
	up           *publish.Uploader
	a, b         v1.Layer
	bodyA, bodyB []byte
	img          v1.Image
	ts           []name.Tag
	release      chan struct{}
}

func newOneSlot(t *testing.T, repo string) *oneSlot {
	t.Helper()
	host, c := countingServer(t)
	o := &oneSlot{c: c, release: make(chan struct{})}
	o.r, _ = publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithJobs(1))
	o.a, _ = random.Layer(64<<10, types.OCILayer)
	o.b, _ = random.Layer(64<<10, types.OCILayer)
	o.bodyA, o.bodyB = blobBytes(t, o.a), blobBytes(t, o.b)
	var err error
	if o.img, err = mutate.AppendLayers(empty.Image, o.a, o.b); err != nil {
		t.Fatal(err)
	}
	o.ts = tags(t, o.r, host+"/"+repo+":v1")
	if o.up, err = o.r.NewUploader(context.Background(), o.ts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.up.Abort)
	o.up.Start(o.a, func() io.ReadCloser {
		return io.NopCloser(io.MultiReader(bytes.NewReader(o.bodyA[:1024]), readerFunc(func(p []byte) (int, error) {
			<-o.release
			return 0, io.EOF
		}), bytes.NewReader(o.bodyA[1024:])))
	})
	select {
	case <-c.patchStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the early upload of the first layer did not start")
	}
	return o
}

// push completes the push and checks that both layers read back.
func (o *oneSlot) push(t *testing.T) {
	t.Helper()
	if _, err := o.up.Push(context.Background(), o.img, o.ts); err != nil {
		t.Fatal(err)
	}
	ref, _ := o.img.Digest()
	got, err := remote.Image(o.ts[0].Context().Digest(ref.String()))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := got.Layers()
	for i, want := range [][]byte{o.bodyA, o.bodyB} {
		if b := blobBytes(t, ls[i]); !bytes.Equal(b, want) {
			t.Errorf("layer %d reads back different", i)
		}
	}
}

// TestEarlyUploadCompressedWaits: a compressed layer whose encoding ends
// while it waits for an upload slot is uploaded whole (POST, then PUT with
// the bytes), not streamed and completed (POST, PATCH, PUT): a round trip
// less per blob.
func TestEarlyUploadCompressedWaits(t *testing.T) {
	o := newOneSlot(t, "web/waits")
	// b waits for the slot, and is encoded (Add) meanwhile.
	o.up.Start(o.b, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(o.bodyB)) })
	o.up.Add(o.b)
	close(o.release)
	o.up.Add(o.a)
	o.push(t)
	if o.c.patches.Load() != 1 {
		t.Errorf("%d PATCH requests; want 1 (the first layer's stream; the second uploaded whole)", o.c.patches.Load())
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestEarlyUploadCompressedFirstWave: only the first wave of compressed
// layers (one per upload slot) streams while compressed; a layer that gets
// a slot after it, still being compressed, waits for its digest and goes
// up whole.
func TestEarlyUploadCompressedFirstWave(t *testing.T) {
	o := newOneSlot(t, "web/wave")
	var opened atomic.Int64
	o.up.Start(o.b, func() io.ReadCloser { opened.Add(1); return io.NopCloser(bytes.NewReader(o.bodyB)) })
	close(o.release)
	o.up.Add(o.a)                      // a completes and frees the only slot,
	time.Sleep(300 * time.Millisecond) // which b takes while still "compressing"
	o.up.Add(o.b)
	o.push(t)
	if o.c.patches.Load() != 1 || opened.Load() != 0 {
		t.Errorf("%d PATCH requests, the second layer's stream opened %d times; want only the first wave (one slot: one layer) streamed", o.c.patches.Load(), opened.Load())
	}
}
