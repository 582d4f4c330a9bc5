package publish_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// blobCounts counts the blob requests a registry receives.
type blobCounts struct {
	posts, patches, puts, deletes, heads atomic.Int64
	patchStarted                         chan struct{}
}

// countingServer is a registry that counts blob requests; intercept, when
// given, sees each request after it is counted and may answer it instead
// (returning true).
func countingServer(t *testing.T, intercept ...func(http.ResponseWriter, *http.Request) bool) (string, *blobCounts) {
	t.Helper()
	c := &blobCounts{patchStarted: make(chan struct{}, 16)}
	host := testregistry.New(t, testregistry.WithWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/blobs/") {
				switch req.Method {
				case http.MethodPost:
					c.posts.Add(1)
				case http.MethodPatch:
					c.patches.Add(1)
					select {
					case c.patchStarted <- struct{}{}:
					default: // nobody waits for this many
					}
				case http.MethodPut:
					c.puts.Add(1)
				case http.MethodDelete:
					c.deletes.Add(1)
				case http.MethodHead:
					c.heads.Add(1)
				}
			}
			for _, f := range intercept {
				if f(w, req) {
					return
				}
			}
			h.ServeHTTP(w, req)
		})
	}))
	return host, c
}

// slowReader hands out its bytes slowly, so that an early upload is still
// running when the hash is known: after delay, at most max bytes (512 if
// unset) per call.
type slowReader struct {
	r     io.Reader
	delay time.Duration
	max   int
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	if s.max == 0 {
		s.max = 512
	}
	return s.r.Read(p[:min(len(p), s.max)])
}

func blobBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readsBack checks that the first layer of the image at ref holds body.
func readsBack(t *testing.T, r *publish.Registry, ref string, body []byte) {
	t.Helper()
	img, err := remote.Image(tags(t, r, ref)[0])
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		t.Fatalf("layers of %s: %d, %v", ref, len(ls), err)
	}
	if got := blobBytes(t, ls[0]); !bytes.Equal(got, body) {
		t.Errorf("the layer of %s reads back different", ref)
	}
}

func pushEarly(t *testing.T, r *publish.Registry, ref string, l v1.Layer, open func() io.ReadCloser, c *blobCounts, wait bool) (*publish.PushResult, error) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	ts := tags(t, r, ref)
	up, err := r.NewUploader(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	up.Start(l, open)
	if wait { // the layer is "hashed" only once its upload is under way
		select {
		case <-c.patchStarted:
		case <-time.After(10 * time.Second):
			t.Fatal("the early upload did not start")
		}
	}
	up.Add(l)
	return up.Push(context.Background(), img, ts)
}

// TestEarlyUpload: a layer handed over before its digest is known is
// streamed at once and completed with the digest when it comes; the image
// reads back whole and the bytes count as sent once.
func TestEarlyUpload(t *testing.T) {
	host, c := countingServer(t)
	var last publish.Progress
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithProgress(func(p publish.Progress) { last = p }))
	l, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
	body := blobBytes(t, l)
	open := func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }
	pr, err := pushEarly(t, r, host+"/web/early:v1", l, open, c, true)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := l.Size()
	// The layer early (PATCH, then PUT), the config in one PUT.
	if c.patches.Load() != 1 || c.puts.Load() != 2 {
		t.Errorf("%d PATCH, %d PUT; want 1 and 2 (the layer was not sent twice)", c.patches.Load(), c.puts.Load())
	}
	if pr.SentBytes < size || pr.SkippedBlobs != 0 {
		t.Errorf("PushResult %+v; want the layer's %d bytes sent, nothing skipped", pr, size)
	}
	if last.Complete != last.Total || last.Total < size {
		t.Errorf("progress ended at %+v", last)
	}
	readsBack(t, r, host+"/web/early:v1", body)
}

// TestEarlyUploadBlobExists: when the registry turns out to have the blob,
// the early upload is dropped (its session deleted) and the blob counts as
// skipped.
func TestEarlyUploadBlobExists(t *testing.T) {
	host, c := countingServer(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	l, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
	body := blobBytes(t, l)
	if _, err := pushEarly(t, r, host+"/web/exists:v1", l, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }, c, false); err != nil {
		t.Fatal(err)
	}
	c.puts.Store(0)
	c.deletes.Store(0)
	for len(c.patchStarted) > 0 { // the first push's PATCH requests
		<-c.patchStarted
	}
	slow := func() io.ReadCloser {
		return io.NopCloser(&slowReader{r: bytes.NewReader(body), delay: 5 * time.Millisecond})
	}
	pr, err := pushEarly(t, r, host+"/web/exists:v2", l, slow, c, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.deletes.Load() != 1 {
		t.Errorf("%d DELETE requests, want the early session deleted once", c.deletes.Load())
	}
	if got := c.puts.Load(); got != 0 {
		t.Errorf("%d blob PUT requests, want none (no upload completed)", got)
	}
	if pr.SkippedBlobs < 1 {
		t.Errorf("PushResult %+v; want the layer skipped", pr)
	}
}

// TestEarlyUploadFallsBack: an early upload whose bytes do not match the
// digest is refused by the registry; the layer is then uploaded the
// ordinary way and the push succeeds. Two layer values with one digest
// upload once and do not hang.
func TestEarlyUploadFallsBack(t *testing.T) {
	host, c := countingServer(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	l, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
	wrong := blobBytes(t, l)
	wrong[0] ^= 0xff
	pr, err := pushEarly(t, r, host+"/web/fallback:v1", l, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(wrong)) }, c, true)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := l.Size(); pr.SentBytes < size {
		t.Errorf("PushResult %+v", pr)
	}
	readsBack(t, r, host+"/web/fallback:v1", blobBytes(t, l))

	// Same digest, two layer values, both started.
	twin := &registryReadLayer{extLayer: extLayer{l}}
	ts := tags(t, r, host+"/web/twins:v1")
	up, _ := r.NewUploader(context.Background(), ts)
	defer up.Abort()
	open := func() io.ReadCloser { return io.NopCloser(bytes.NewReader(blobBytes(t, l))) }
	up.Start(l, open)
	up.Start(twin, open)
	up.Add(l)
	up.Add(twin)
	done := make(chan error, 1)
	go func() {
		img, _ := mutate.AppendLayers(empty.Image, l)
		_, err := up.Push(context.Background(), img, ts)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Push hangs with two early uploads of one digest")
	}
}

// TestEarlyUploadChunks: an early upload's PATCH reaches the registry in
// HTTP chunks of up to 1 MiB, not in net/http's 32 KiB pieces (each one a
// chunk, a write(2) and a TCP segment: 32,768 of them per GiB), and the
// bytes and the sent-byte count are whole.
func TestEarlyUploadChunks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingListener{Listener: ln}
	host := testregistry.New(t, testregistry.WithListener(rec))

	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	l, _ := random.Layer(3<<20, types.OCIUncompressedLayer)
	body := blobBytes(t, l)
	// A reader that hands out at most 32 KiB per call, as a pipe fed by
	// small writes would.
	open := func() io.ReadCloser {
		return io.NopCloser(&slowReader{r: bytes.NewReader(body), max: 32 << 10})
	}
	pr, err := pushEarly(t, r, host+"/web/chunks:v1", l, open, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if pr.SentBytes < int64(len(body)) {
		t.Errorf("%d bytes counted as sent; the layer has %d", pr.SentBytes, len(body))
	}
	sizes := rec.patchChunks(t)
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total != len(body) {
		t.Fatalf("the PATCH carried %d bytes in %d chunks; want the layer's %d", total, len(sizes), len(body))
	}
	if want := (len(body) + (1<<20 - 1)) / (1 << 20); len(sizes) > want {
		t.Errorf("the PATCH carried %d bytes in %d chunks %v; want at most %d", total, len(sizes), sizes, want)
	}
}

// recordingListener keeps every byte its connections receive.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recordingConn
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// patchChunks returns the chunk sizes of the one chunked PATCH request
// received.
func (l *recordingListener) patchChunks(t *testing.T) []int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.mu.Lock()
		raw := bytes.Clone(c.buf.Bytes())
		c.mu.Unlock()
		i := bytes.Index(raw, []byte("PATCH "))
		if i < 0 {
			continue
		}
		br := bufio.NewReader(bytes.NewReader(raw[i:]))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatal(err)
		}
		if len(req.TransferEncoding) == 0 || req.TransferEncoding[0] != "chunked" {
			t.Fatalf("the PATCH was sent with Transfer-Encoding %v; want chunked", req.TransferEncoding)
		}
		// http.ReadRequest hides the framing; read it from br, which is
		// left at the start of the body.
		var sizes []int
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the PATCH body's chunks: %v", err)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
			if err != nil {
				t.Fatalf("chunk size line %q: %v", line, err)
			}
			if n == 0 {
				return sizes
			}
			sizes = append(sizes, int(n))
			if _, err := br.Discard(int(n) + 2); err != nil {
				t.Fatalf("reading the PATCH body's chunks: %v", err)
			}
		}
	}
	t.Fatal("no PATCH request reached the registry")
	return nil
}

// predictedLayer is a layer whose digest was guessed before it was hashed
// (as builder.Layer.Predicted does from the build cache).
type predictedLayer struct {
	extLayer
	guess v1.Hash
}

func (l predictedLayer) Predicted() (v1.Hash, bool) { return l.guess, true }

// TestEarlyUploadPredicted: a layer whose predicted blob the registry has
// sends nothing while it is hashed; if the guess was right the blob counts
// as skipped once, if wrong the layer is uploaded when its digest is known
// and the guessed blob does not count. A guess the registry lacks changes
// nothing: the upload starts early.
func TestEarlyUploadPredicted(t *testing.T) {
	host, c := countingServer(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	old, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
	oldBody := blobBytes(t, old)
	if _, err := pushEarly(t, r, host+"/web/predicted:v1", old, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(oldBody)) }, c, false); err != nil {
		t.Fatal(err)
	}
	oldDigest, _ := old.Digest()
	var opened atomic.Int64
	opener := func(body []byte) func() io.ReadCloser {
		return func() io.ReadCloser { opened.Add(1); return io.NopCloser(bytes.NewReader(body)) }
	}
	reset := func() {
		opened.Store(0)
		c.posts.Store(0)
		c.patches.Store(0)
		c.puts.Store(0)
		for len(c.patchStarted) > 0 {
			<-c.patchStarted
		}
	}

	t.Run("right", func(t *testing.T) {
		reset()
		pr, err := pushEarly(t, r, host+"/web/predicted:v2", predictedLayer{extLayer{old}, oldDigest}, opener(oldBody), c, false)
		if err != nil {
			t.Fatal(err)
		}
		if opened.Load() != 0 || c.patches.Load() != 0 || c.puts.Load() != 0 {
			t.Errorf("opened %d times, %d PATCH, %d PUT: want nothing sent", opened.Load(), c.patches.Load(), c.puts.Load())
		}
		size, _ := old.Size()
		if pr.SentBytes != 0 || pr.SkippedBlobs != 2 || pr.SkippedBytes < size {
			t.Errorf("PushResult %+v; want the layer and the config skipped once each", pr)
		}
	})

	t.Run("wrong", func(t *testing.T) {
		reset()
		l, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
		body := blobBytes(t, l)
		pr, err := pushEarly(t, r, host+"/web/predicted:v3", predictedLayer{extLayer{l}, oldDigest}, opener(body), c, false)
		if err != nil {
			t.Fatal(err)
		}
		if c.patches.Load() != 0 {
			t.Errorf("%d PATCH: want no early upload while the guess was standing", c.patches.Load())
		}
		size, _ := l.Size()
		if pr.SentBytes < size || pr.SkippedBlobs != 0 {
			t.Errorf("PushResult %+v; want the layer sent and the guessed blob not counted as skipped", pr)
		}
		readsBack(t, r, host+"/web/predicted:v3", body)
	})

	t.Run("absent", func(t *testing.T) {
		reset()
		l, _ := random.Layer(64<<10, types.OCIUncompressedLayer)
		body := blobBytes(t, l)
		guess, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
		if _, err := pushEarly(t, r, host+"/web/predicted:v4", predictedLayer{extLayer{l}, guess}, opener(body), c, true); err != nil {
			t.Fatal(err)
		}
		if opened.Load() != 1 || c.patches.Load() != 1 {
			t.Errorf("opened %d times, %d PATCH: want one early upload", opened.Load(), c.patches.Load())
		}
	})
}

// TestConfigUploadsBesideLayers: once the image is complete, its config
// (known only then) is uploaded while the layers still are, instead of
// queueing behind them for the upload slots: here a layer's upload holds
// the only slot and finishes only once the config has arrived. A layer as
// small as the config does not make it wait either (a small tree's one
// layer and its config go up together).
func TestConfigUploadsBesideLayers(t *testing.T) {
	for _, size := range []int64{256 << 10, 1 << 10} {
		t.Run(fmt.Sprintf("layer of %d bytes", size), func(t *testing.T) {
			l1, _ := random.Layer(size, types.OCIUncompressedLayer)
			img, _ := mutate.AppendLayers(empty.Image, l1)
			cfg, _ := img.ConfigName()
			ld, _ := l1.Digest()
			cfgIn := make(chan struct{})
			var once sync.Once
			host, _ := countingServer(t, func(w http.ResponseWriter, req *http.Request) bool {
				if req.Method != http.MethodPut {
					return false
				}
				switch req.URL.Query().Get("digest") {
				case cfg.String():
					once.Do(func() { close(cfgIn) })
				case ld.String():
					select {
					case <-cfgIn:
					case <-time.After(10 * time.Second):
						t.Error("the config was not uploaded while a layer was")
					}
				}
				return false
			})
			r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithJobs(1))
			ts := tags(t, r, host+"/web/cfg:v1")
			up, err := r.NewUploader(context.Background(), ts)
			if err != nil {
				t.Fatal(err)
			}
			defer up.Abort()
			up.Add(l1)
			res, err := up.Push(context.Background(), img, ts)
			if err != nil {
				t.Fatalf("Push() = %v", err)
			}
			if want, _ := img.Digest(); res.Digest != want {
				t.Errorf("pushed %s, want %s", res.Digest, want)
			}
			readsBack(t, r, host+"/web/cfg:v1", blobBytes(t, l1))
		})
	}
}
