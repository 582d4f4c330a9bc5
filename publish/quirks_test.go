package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/publish"
)

// Registries as they are, against the upload-session double (engine_test.go):
// the known registries' policies, what a registry says while pushing, and
// answers that break the protocol.

// TestGHCRResumeStaysUnderItsPatchLimit: a streamed upload cut in its
// middle resumes with the rest declared, which GHCR refuses over 4 MiB: its
// policy sends that rest in chunks of 4 MiB (the push of the issue that
// failed with "416 … exceeds the maximum permissible limit of 4.00MiB").
func TestGHCRResumeStaysUnderItsPatchLimit(t *testing.T) {
	const size = 13 << 20
	host, s := newSessions(t, &sessions{maxPatch: 4 << 20, keepPartial: true, cutMethod: http.MethodPatch, cutAt: 3 << 20})
	img, l := bigImage(t, size)
	pr, err := pushWith(t, host+"/web/ghcr:v1", img, publish.WithRegistryProfile(host, "ghcr"), publish.WithUploadMode(publish.Streamed))
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.Resumed != 1 || st.Restarted != 0 {
		t.Errorf("layer statistics %+v; want one resume", st)
	}
	for _, n := range s.patches {
		if n > 4<<20 {
			t.Errorf("a PATCH declared %d bytes, over GHCR's 4 MiB", n)
		}
	}
	if total := blobBytesOf(t, img); s.received > total+total/10 {
		t.Errorf("the registry received %d bytes for %d of blobs", s.received, total)
	}
}

// TestSizeLimitAdapts: a registry (or the proxy in front of it) that
// refuses bodies over a size without naming it: the refused monolithic PUT
// goes on in chunks from where the session stands, halved until they pass;
// the next blob starts in chunks of that size, and the user hears of it
// once.
func TestSizeLimitAdapts(t *testing.T) {
	const limit = 2<<20 + 1000
	var refused atomic.Int64
	host, s := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.ContentLength > limit || (r.ContentLength < 0 && r.Method == http.MethodPatch)) {
			refused.Add(1)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center></body></html>")
			return true
		}
		return false
	}})
	l1, _ := random.Layer(6<<20, types.OCIUncompressedLayer)
	l2, _ := random.Layer(5<<20, types.OCIUncompressedLayer)
	img, _ := mutate.AppendLayers(empty.Image, l1, l2)
	var notes []string
	if _, err := pushWith(t, host+"/web/limited:v1", img, publish.WithJobs(1), publish.WithNotes(func(n string) { notes = append(notes, n) })); err != nil {
		t.Fatalf("Push() = %v", err)
	}
	// First blob: the PUT of 6 MiB, then a 4 MiB chunk; 2 MiB chunks pass.
	if refused.Load() != 2 {
		t.Errorf("%d requests refused, want 2 (the first blob's PUT and 4 MiB chunk; then none)", refused.Load())
	}
	if countNotes(notes, "as too large; uploading in chunks of") != 1 {
		t.Errorf("notes %q, want one about the chunks", notes)
	}
	for _, n := range s.patches {
		if n > limit {
			t.Errorf("a PATCH of %d bytes reached the registry", n)
		}
	}
}

// TestSizeLimitWithoutChunks: a registry that takes no chunks (GAR) and
// refuses a blob for its size: the push fails naming the registry and the
// blob, and no manifest is sent.
func TestSizeLimitWithoutChunks(t *testing.T) {
	host, s := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 1<<20 {
			regError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "blob too large")
			return true
		}
		return false
	}})
	img, l := bigImage(t, 2<<20)
	d, _ := l.Digest()
	_, err := pushWith(t, host+"/web/gar:v1", img, publish.WithRegistryProfile(host, "gar"))
	if !errors.Is(err, publish.ErrLimit) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), d.String()) || !strings.Contains(err.Error(), "takes no chunked uploads") {
		t.Errorf("Push() = %v, want ErrLimit naming the registry and the blob", err)
	}
	if n := s.requests("PUT /v2/web/gar/manifests/"); n != 0 {
		t.Errorf("%d manifest PUTs", n)
	}
}

// TestPatchRefusedAdapts: a registry that answers PATCH with 405
// UNSUPPORTED takes blobs only in one PUT: an early upload falls back to
// one, and the next layer is not streamed at all.
func TestPatchRefusedAdapts(t *testing.T) {
	host, c := countingServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch {
			regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
			return true
		}
		return false
	})
	// Notes come from the upload's goroutines while the test polls them.
	var mu sync.Mutex
	var notes []string
	noted := func(s string) int {
		mu.Lock()
		defer mu.Unlock()
		return countNotes(notes, s)
	}
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithJobs(1), publish.WithNotes(func(n string) {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, n)
	}))
	l1, _ := random.Layer(1<<20, types.OCIUncompressedLayer)
	l2, _ := random.Layer(1<<20, types.OCIUncompressedLayer)
	img, _ := mutate.AppendLayers(empty.Image, l1, l2)
	ts := tags(t, r, host+"/web/mono:v1")
	up, err := r.NewUploader(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	body1 := blobBytes(t, l1)
	up.Start(l1, func() io.ReadCloser {
		return io.NopCloser(&slowReader{r: bytes.NewReader(body1), delay: time.Millisecond, max: 64 << 10})
	})
	select {
	case <-c.patchStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the early upload did not start")
	}
	up.Add(l1)
	// The second layer starts once the first learned that PATCH is refused.
	deadline := time.Now().Add(10 * time.Second)
	for noted("does not take PATCH uploads") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	body2 := blobBytes(t, l2)
	up.Start(l2, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body2)) })
	up.Add(l2)
	if _, err := up.Push(context.Background(), img, ts); err != nil {
		t.Fatalf("Push() = %v", err)
	}
	if c.patches.Load() != 1 {
		t.Errorf("%d PATCHes, want 1 (the first early upload's, refused)", c.patches.Load())
	}
	if noted("does not take PATCH uploads") != 1 {
		t.Errorf("notes %q", notes)
	}
	readsBack(t, r, host+"/web/mono:v1", body1)
}

// TestProtocolErrors: answers that break the upload protocol fail the push
// with an error naming the registry, the blob and what to do, and no
// manifest is sent: a 202 without Location; a Range that is not a range,
// in a PATCH's answer or in the session's status after a cut.
func TestProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      *sessions
		policy publish.UploadPolicy
		want   string
	}{
		{"202 without Location", &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusAccepted)
				return true
			}
			return false
		}}, publish.UploadPolicy{}, "answered 202 to the POST that opens an upload session in web/bad without a Location"},
		{"Range in a PATCH answer", &sessions{badRange: map[string]string{http.MethodPatch: "bytes=lots"}}, publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 1 << 20},
			`answered with Range "bytes=lots", which is not the byte range (0-N) of an upload session`},
		{"Range of a session's status", &sessions{keepPartial: true, cutMethod: http.MethodPut, cutAt: 1 << 20, badRange: map[string]string{http.MethodGet: "0-x"}},
			publish.UploadPolicy{}, `answered with Range "0-x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, s := newSessions(t, tc.s)
			img, l := bigImage(t, 3<<20)
			d, _ := l.Digest()
			_, err := pushWith(t, host+"/web/bad:v1", img, publish.WithUploadPolicy(tc.policy))
			var pe *publish.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, publish.ErrProtocol) || pe.Host != host || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "report it to the registry's operator") {
				t.Fatalf("Push() = %v, want a ProtocolError: %s", err, tc.want)
			}
			if !strings.Contains(err.Error(), d.String()) && !strings.Contains(err.Error(), "blob sha256:") {
				t.Errorf("the error names no blob: %v", err)
			}
			if n := s.requests("PUT /v2/web/bad/manifests/"); n != 0 {
				t.Errorf("%d manifest PUTs", n)
			}
		})
	}
}

// TestLocationOnAnotherHost: a registry whose upload Location names another
// host (a storage front, say) is followed there, and neither the registry's
// token nor the user's password goes to that host.
func TestLocationOnAnotherHost(t *testing.T) {
	var s *sessions
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		// /upload/REPO/ID: the registry's session, served without asking
		// for a token (as a signed storage URL would be).
		repo, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/upload/"), "@")
		u := *r.URL
		u.Path = "/v2/" + repo + "/blobs/uploads/" + id
		r.URL = &u
		s.serveUpload(w, r, repo, id)
	}))
	t.Cleanup(other.Close)
	otherHost := strings.Replace(other.Listener.Addr().String(), "127.0.0.1", "localhost", 1)
	host, sess := newSessions(t, &sessions{tokens: true, intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			return false
		}
		rec := httptest.NewRecorder()
		s.serveUpload(rec, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads/"), "")
		loc := rec.Header().Get("Location")
		repo, id, _ := strings.Cut(strings.TrimPrefix(loc, "/v2/"), "/blobs/uploads/")
		w.Header().Set("Location", (&url.URL{Scheme: "http", Host: otherHost, Path: "/upload/" + repo + "@" + id}).String())
		w.WriteHeader(rec.Code)
		return true
	}})
	s = sess
	img, l := bigImage(t, 1<<20)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(staticKeychain{"octocat", "s3cret-pass"}))
	pr, err := r.Push(context.Background(), img, tags(t, r, host+"/web/elsewhere:v1"))
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.How != publish.BlobUploaded {
		t.Errorf("layer %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the other host saw no request: the Location was not followed")
	}
	for _, req := range seen {
		if !strings.HasSuffix(req, "auth=") {
			t.Errorf("the other host got credentials: %s", req)
		}
	}
	if s.requests("GET /token") == 0 {
		t.Error("the registry issued no token: the test tested nothing")
	}
}

// TestStalledRegistry: a registry that stops reading a blob in its middle
// is given up on after the Registry's timeout, and the upload resumes in
// its session; nothing waits forever.
func TestStalledRegistry(t *testing.T) {
	var stalled atomic.Bool
	done := make(chan struct{})
	host, _ := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.ContentLength > 1<<20 && stalled.CompareAndSwap(false, true) {
			io.CopyN(io.Discard, r.Body, 256<<10)
			// Read nothing more, answer nothing (a server that stops
			// reading a body does not notice the client leaving).
			<-done
			return true
		}
		return false
	}})
	t.Cleanup(func() { close(done) }) // before the server's Close
	img, l := bigImage(t, 4<<20)
	start := time.Now()
	pr, err := pushWith(t, host+"/web/stall:v1", img, publish.WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the push took %v", d)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.Resumed != 1 {
		t.Errorf("layer statistics %+v; want one resume after the stall", st)
	}
}

// TestECRResumeAtReportedRange: under ECR's policy (its PATCH answers'
// Range lags), a chunk cut in its middle whose first bytes the session
// kept resumes where the session's status says, not at the start of the
// chunk, and the registry gets the blob once.
func TestECRResumeAtReportedRange(t *testing.T) {
	const size = 26<<20 + 3
	host, s := newSessions(t, &sessions{staleRange: true, emptyPut500: true, keepPartial: true, cutMethod: http.MethodPatch, cutAt: 15<<20 + 77})
	img, l := bigImage(t, size)
	pr, err := pushWith(t, host+"/web/ecr:v1", img, publish.WithRegistryProfile(host, "ecr"))
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.Resumed != 1 || st.Restarted != 0 {
		t.Errorf("layer statistics %+v; want one resume", st)
	}
	if want := blobBytesOf(t, img); s.received != want {
		t.Errorf("the registry read %d bytes, want %d (the blobs, once)", s.received, want)
	}
	for _, n := range s.patches {
		if n > 10<<20 {
			t.Errorf("a PATCH of %d bytes, over ECR's 10 MiB chunks", n)
		}
	}
}

// TestEarlyUploadECR: an early upload under ECR's policy keeps its last
// chunk for the PUT that completes it, as ECR answers an empty final PUT
// with 500: it completes as an early upload, without falling back to
// sending the blob again.
func TestEarlyUploadECR(t *testing.T) {
	host, s := newSessions(t, &sessions{staleRange: true, emptyPut500: true})
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithRegistryProfile(host, "ecr"))
	l, _ := random.Layer(23<<20, types.OCIUncompressedLayer)
	body := blobBytes(t, l)
	pr, err := pushEarly(t, r, host+"/web/earlyecr:v1", l, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(body)) }, nil, false)
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.How != publish.BlobEarlyUpload || st.Restarted != 0 || st.Sent != int64(len(body)) {
		t.Errorf("layer statistics %+v; want an early upload that sent the blob once", st)
	}
	for _, n := range s.patches {
		if n < 5<<20 || n > 10<<20 {
			t.Errorf("a PATCH of %d bytes; want ECR's chunks of 5 to 10 MiB, the last one in the PUT", n)
		}
	}
	readsBack(t, r, host+"/web/earlyecr:v1", body)
}

// TestSizeLimitRespectsMinimum: after a refusal for size, chunks are at
// least the OCI-Chunk-Min-Length that the registry announced, when that is
// below what it refused.
func TestSizeLimitRespectsMinimum(t *testing.T) {
	host, s := newSessions(t, &sessions{minChunk: 6 << 20, intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 8<<20 {
			regError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "request body too large")
			return true
		}
		return false
	}})
	img, l := bigImage(t, 20<<20)
	if _, err := pushWith(t, host+"/web/min:v1", img); err != nil {
		t.Fatalf("Push() = %v", err)
	}
	n, _ := l.Size()
	var layer []int64
	for _, p := range s.patches {
		if p > 1000 {
			layer = append(layer, p)
		}
	}
	if want := []int64{6 << 20, 6 << 20, 6 << 20, n - 18<<20}; fmt.Sprint(layer) != fmt.Sprint(want) {
		t.Errorf("layer chunks %v, want %v (the announced minimum, under the refused size)", layer, want)
	}
}
