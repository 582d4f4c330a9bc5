package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// sessions is a test double of the distribution spec's upload sessions, in
// front of ggcr's in-process registry (which answers no GET on an upload
// URL and keeps nothing of a PATCH cut in its middle). It implements what
// the engine relies on, as the spec words it: POST opens a session (or
// mounts: 201) and may announce OCI-Chunk-Min-Length; PATCH appends, with a
// Content-Range that must start where the session ends (else 416); GET on
// the session answers 204 with "Range: 0-END"; PUT ?digest= appends its
// body, checks the digest and completes; DELETE cancels; blob HEADs answer
// per repository. Completed blobs go on to the inner registry, which keeps
// manifests and serves reads. Knobs make it behave like registries users
// meet (GHCR's 4 MiB PATCH limit, ECR's stale Range and 500 on an empty
// final PUT, connections cut in the middle of a body).
type sessions struct {
	inner http.Handler

	// knobs, set before the push
	minChunk    int64 // announce OCI-Chunk-Min-Length in answers to POST
	maxPatch    int64 // answer a PATCH declaring more with 416, as GHCR does
	staleRange  bool  // Range stops advancing after the first PATCH, as ECR's
	emptyPut500 bool  // an empty PUT after PATCHes answers 500, as ECR has
	lieDigest   bool  // the blob PUT answers with another Docker-Content-Digest
	refuseMount bool  // a mount answers 202 (a session) instead of 201
	keepPartial bool  // a cut request's bytes stay in the session
	goneOnGet   bool  // GET on a session answers 404 (the session expired)
	// cutMethod and cutAt: the first request of that method whose body
	// goes past byte cutAt of its blob has its connection reset there
	// (cuts times; once if 0).
	cutMethod string
	cutAt     int64
	cuts      int
	// intercept may answer a request first (true: answered).
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// badRange, when set, replaces the Range header of the answers to
	// requests of that method on a session (GET, PATCH).
	badRange map[string]string
	// tokens: when set, every /v2/ request needs "Bearer <current token>";
	// expire may declare the token of a request expired.
	tokens bool
	expire func(r *http.Request) bool

	mu       sync.Mutex
	n        int
	uploads  map[string]*upload
	repos    map[string]map[string]bool // repository -> digests it holds
	token    string
	received int64   // body bytes read from PATCH and PUT requests
	patches  []int64 // declared PATCH lengths (-1: none)
	log      []string
}

type upload struct {
	repo    string
	data    []byte
	patched bool
	stale   int64 // the Range reported once it went stale (-1: not stale)
}

var (
	uploadPath = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([^/]*)$`)
	blobPath   = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)
)

func newSessions(t *testing.T, s *sessions) (string, *sessions) {
	t.Helper()
	s.uploads, s.repos = map[string]*upload{}, map[string]map[string]bool{}
	if s.cuts == 0 {
		s.cuts = 1
	}
	host := testregistry.New(t, testregistry.WithWrap(func(inner http.Handler) http.Handler {
		s.inner = inner
		return s
	}))
	return host, s
}

func (s *sessions) requests(prefix string) (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (s *sessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	s.mu.Lock()
	s.log = append(s.log, r.Method+" "+uploadPath.ReplaceAllString(path, "/v2/$1/blobs/uploads/ID"))
	s.mu.Unlock()
	if s.tokens {
		if path == "/token" {
			s.mu.Lock()
			s.n++
			s.token = fmt.Sprintf("tok%d", s.n)
			tok := s.token
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token":%q}`, tok)
			return
		}
		s.mu.Lock()
		valid := r.Header.Get("Authorization") == "Bearer "+s.token && s.token != ""
		s.mu.Unlock()
		if !valid || (s.expire != nil && s.expire(r)) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}`, http.StatusUnauthorized)
			return
		}
	}
	if s.intercept != nil && s.intercept(w, r) {
		return
	}
	if m := uploadPath.FindStringSubmatch(path); m != nil {
		s.serveUpload(w, r, m[1], m[2])
		return
	}
	if m := blobPath.FindStringSubmatch(path); m != nil && r.Method == http.MethodHead {
		s.mu.Lock()
		ok := s.repos[m[1]][m[2]]
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	s.inner.ServeHTTP(w, r)
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func (s *sessions) setRange(w http.ResponseWriter, u *upload) {
	n := int64(len(u.data))
	if u.stale >= 0 {
		n = u.stale
	}
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(n-1, 0)))
}

func (s *sessions) serveUpload(w http.ResponseWriter, r *http.Request, repo, id string) {
	if r.Method == http.MethodPost {
		s.mu.Lock()
		defer s.mu.Unlock()
		if d, from := r.URL.Query().Get("mount"), r.URL.Query().Get("from"); d != "" && from != "" && !s.refuseMount && s.repos[from][d] {
			s.hold(repo, d)
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
			return
		}
		s.n++
		id := fmt.Sprintf("u%d", s.n)
		s.uploads[id] = &upload{repo: repo, stale: -1}
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		if s.minChunk > 0 {
			w.Header().Set("OCI-Chunk-Min-Length", strconv.FormatInt(s.minChunk, 10))
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil || u.repo != repo {
		regError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
		return
	}
	switch r.Method {
	case http.MethodGet:
		if s.goneOnGet {
			s.mu.Lock()
			delete(s.uploads, id)
			s.mu.Unlock()
			regError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
			return
		}
		s.mu.Lock()
		s.setRange(w, u)
		s.mu.Unlock()
		if v, ok := s.badRange[r.Method]; ok {
			w.Header().Set("Range", v)
		}
		w.Header().Set("Location", r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.uploads, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		s.mu.Lock()
		s.patches = append(s.patches, r.ContentLength)
		s.mu.Unlock()
		if s.maxPatch > 0 && r.ContentLength > s.maxPatch {
			regError(w, http.StatusRequestedRangeNotSatisfiable, "REQUESTED_RANGE_NOT_SATISFIABLE",
				fmt.Sprintf("the request body is too large and exceeds the maximum permissible limit of %.2fMiB", float64(s.maxPatch)/(1<<20)))
			return
		}
		if !s.receive(w, r, u) {
			return
		}
		s.mu.Lock()
		if s.staleRange && u.patched && u.stale < 0 {
			u.stale = int64(len(u.data)) - r.ContentLength // stuck at the first chunk's end
		}
		u.patched = true
		s.setRange(w, u)
		s.mu.Unlock()
		if v, ok := s.badRange[r.Method]; ok {
			w.Header().Set("Range", v)
		}
		w.Header().Set("Location", r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPut:
		if s.emptyPut500 && r.ContentLength == 0 && u.patched {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if !s.receive(w, r, u) {
			return
		}
		s.mu.Lock()
		data := u.data
		s.mu.Unlock()
		sum := sha256.Sum256(data)
		got := "sha256:" + hex.EncodeToString(sum[:])
		if want := r.URL.Query().Get("digest"); want != got {
			regError(w, http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
			return
		}
		// Store it in the inner registry too (one POST ?digest=), for reads.
		req, _ := http.NewRequest(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+got, bytes.NewReader(data))
		req.ContentLength = int64(len(data))
		rec := &statusRecorder{header: http.Header{}}
		s.inner.ServeHTTP(rec, req)
		if rec.status != http.StatusCreated {
			regError(w, http.StatusInternalServerError, "UNKNOWN", fmt.Sprintf("storing the blob: %d", rec.status))
			return
		}
		s.mu.Lock()
		s.hold(repo, got)
		delete(s.uploads, id)
		s.mu.Unlock()
		if s.lieDigest {
			got = "sha256:" + strings.Repeat("0", 64)
		}
		w.Header().Set("Docker-Content-Digest", got)
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (s *sessions) hold(repo, d string) {
	if s.repos[repo] == nil {
		s.repos[repo] = map[string]bool{}
	}
	s.repos[repo][d] = true
}

// receive reads a PATCH or PUT body into the session, checking its
// Content-Range; false when it answered (416) or cut the connection.
func (s *sessions) receive(w http.ResponseWriter, r *http.Request, u *upload) bool {
	s.mu.Lock()
	offset := int64(len(u.data))
	s.mu.Unlock()
	if cr := r.Header.Get("Content-Range"); cr != "" {
		var start, end int64
		if _, err := fmt.Sscanf(cr, "%d-%d", &start, &end); err != nil || start != offset {
			s.mu.Lock()
			s.setRange(w, u)
			s.mu.Unlock()
			regError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", fmt.Sprintf("content range %q does not start at %d", cr, offset))
			return false
		}
	}
	s.mu.Lock()
	limit := int64(-1)
	if r.Method == s.cutMethod && s.cuts >= 0 && offset <= s.cutAt {
		limit = s.cutAt - offset
	}
	s.mu.Unlock()
	var body []byte
	cut := false
	if limit >= 0 {
		body, _ = io.ReadAll(io.LimitReader(r.Body, limit))
		// Cut only a body that goes on past the limit.
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n == 1 {
			body = append(body, one[0])
			cut = true
		}
	} else {
		body, _ = io.ReadAll(r.Body)
	}
	s.mu.Lock()
	s.received += int64(len(body))
	if cut {
		if s.cuts--; s.cuts == 0 {
			s.cuts = -1
		}
	}
	if !cut || s.keepPartial {
		u.data = append(u.data, body...)
	}
	s.mu.Unlock()
	if cut {
		resetConn(w)
		return false
	}
	return true
}

// resetConn closes the request's connection with a reset, mid-request.
func resetConn(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }

// bigImage is an image with one incompressible layer of size bytes.
func bigImage(t *testing.T, size int64) (v1.Image, v1.Layer) {
	t.Helper()
	l, err := random.Layer(size, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	return img, l
}

// pushWith pushes img to ref through a Registry with opts (and a fast
// backoff) and checks that the registry serves the image by its digest.
func pushWith(t *testing.T, ref string, img v1.Image, opts ...publish.RegistryOption) (*publish.PushResult, error) {
	t.Helper()
	r, err := publish.NewRegistry(append([]publish.RegistryOption{publish.WithRetryBackoff(fast)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := r.ParseTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := r.Push(context.Background(), img, []name.Tag{tag})
	if err != nil {
		return pr, err
	}
	want, _ := img.Digest()
	got, err := remote.Image(tag)
	if err != nil {
		t.Fatalf("reading %s back: %v", ref, err)
	}
	if d, _ := got.Digest(); d != want || pr.Digest != want {
		t.Fatalf("%s: registry has %s, push reported %s, want %s", ref, d, pr.Digest, want)
	}
	ls, _ := got.Layers()
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if ld, _ := l.Digest(); err != nil || h != ld {
			t.Fatalf("layer %s reads back as %s (%v)", ld, h, err)
		}
	}
	return pr, nil
}

// countNotes counts the notes that contain s.
func countNotes(notes []string, s string) (n int) {
	for _, note := range notes {
		if strings.Contains(note, s) {
			n++
		}
	}
	return n
}

// blobBytesOf is the size of img's blobs: its layers and its config.
func blobBytesOf(t *testing.T, img v1.Image) int64 {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.RawConfigFile()
	n := int64(len(cfg))
	for _, l := range ls {
		s, _ := l.Size()
		n += s
	}
	return n
}

// blobStat finds the statistics of digest d in pr.
func blobStat(t *testing.T, pr *publish.PushResult, d v1.Hash) publish.BlobStat {
	t.Helper()
	for _, b := range pr.Blobs {
		if b.Digest == d {
			return b
		}
	}
	t.Fatalf("no statistics for %s in %+v", d, pr.Blobs)
	return publish.BlobStat{}
}

// TestResume: a blob whose request is cut in its middle resumes in the
// same session from the offset the registry reports, in every mode, and
// the registry receives little more than the blob (the bytes of the cut
// request that it kept are not sent again).
func TestResume(t *testing.T) {
	const size = 6 << 20
	for _, tc := range []struct {
		name   string
		policy publish.UploadPolicy
		method string
	}{
		{"monolithic", publish.UploadPolicy{}, http.MethodPut},
		{"streamed", publish.UploadPolicy{Mode: publish.Streamed}, http.MethodPatch},
		{"chunked", publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 1 << 20}, http.MethodPatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, s := newSessions(t, &sessions{keepPartial: true, cutMethod: tc.method, cutAt: size/2 + 12345})
			img, l := bigImage(t, size)
			pr, err := pushWith(t, host+"/web/resume:v1", img, publish.WithUploadPolicy(tc.policy))
			if err != nil {
				t.Fatalf("Push() = %v", err)
			}
			d, _ := l.Digest()
			st := blobStat(t, pr, d)
			if st.Resumed != 1 || st.Restarted != 0 || st.How != publish.BlobUploaded {
				t.Errorf("layer statistics %+v; want one resume, no restart", st)
			}
			if st.Sent < size {
				t.Errorf("layer sent %d bytes, want at least its %d", st.Sent, size)
			}
			if total := blobBytesOf(t, img); s.received > total+total/10 {
				t.Errorf("the registry received %d body bytes for %d bytes of blobs: not resumed", s.received, total)
			}
			if s.requests("GET /v2/web/resume/blobs/uploads/ID") != 1 {
				t.Errorf("%d GETs of the upload status, want 1", s.requests("GET /v2/web/resume/blobs/uploads/ID"))
			}
		})
	}
}

// TestResumeDropped: a cut request whose bytes the registry did not keep
// (as behind a proxy that buffers requests): the upload continues from
// where the session stands, so a chunked upload sends one chunk again.
func TestResumeDropped(t *testing.T) {
	const size, chunk = 6 << 20, 1 << 20
	host, s := newSessions(t, &sessions{cutMethod: http.MethodPatch, cutAt: 3*chunk + 100})
	img, l := bigImage(t, size)
	pr, err := pushWith(t, host+"/web/dropped:v1", img, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: chunk}))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.Resumed != 1 || st.Restarted != 0 {
		t.Errorf("layer statistics %+v; want one resume", st)
	}
	if want := blobBytesOf(t, img) + 101; s.received != want {
		t.Errorf("the registry read %d body bytes, want %d (the blobs and the 101 bytes read of the cut chunk)", s.received, want)
	}
}

// TestResumeSessionGone: when the session is gone after a cut, the upload
// starts again from zero in a new session.
func TestResumeSessionGone(t *testing.T) {
	const size = 3 << 20
	host, s := newSessions(t, &sessions{keepPartial: true, goneOnGet: true, cutMethod: http.MethodPut, cutAt: size / 3})
	img, l := bigImage(t, size)
	pr, err := pushWith(t, host+"/web/gone:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	n, _ := l.Size()
	if st := blobStat(t, pr, d); st.Restarted != 1 || st.Resumed != 0 || st.Sent < n+size/3 {
		t.Errorf("layer statistics %+v; want one restart, the cut bytes and the whole blob sent", st)
	}
	if got := s.requests("POST /v2/web/gone/blobs/uploads/"); got != 3 { // layer twice, config
		t.Errorf("%d POSTs, want 3 (the layer's session opened again)", got)
	}
}

// TestChunkSizes: chunks stay within the policy's maximum (GHCR answers a
// larger PATCH with 416) and at least the OCI-Chunk-Min-Length the registry
// announces; a policy above GHCR's limit fails with the registry's message.
func TestChunkSizes(t *testing.T) {
	const size = 9<<20 + 77
	t.Run("max", func(t *testing.T) {
		host, s := newSessions(t, &sessions{maxPatch: 4 << 20})
		img, l := bigImage(t, size)
		n, _ := l.Size()
		if _, err := pushWith(t, host+"/web/max:v1", img, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked})); err != nil {
			t.Fatal(err)
		}
		var layer []int64
		for _, n := range s.patches {
			if n > 4<<20 || n < 0 {
				t.Errorf("PATCH of %d bytes; want at most 4 MiB, declared", n)
			}
			if n > 1000 {
				layer = append(layer, n)
			}
		}
		if want := []int64{4 << 20, 4 << 20, n - 8<<20}; fmt.Sprint(layer) != fmt.Sprint(want) {
			t.Errorf("layer chunks %v, want %v", layer, want)
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		// GHCR's 416 names its limit: the upload goes on in chunks of that
		// size from where the session stands, and the next blob starts so.
		host, s := newSessions(t, &sessions{maxPatch: 4 << 20})
		img, l := bigImage(t, size)
		n, _ := l.Size()
		var notes []string
		_, err := pushWith(t, host+"/web/over:v1", img, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 8 << 20}),
			publish.WithNotes(func(s string) { notes = append(notes, s) }))
		if err != nil {
			t.Fatalf("Push() with 8 MiB chunks to a 4 MiB registry = %v", err)
		}
		var refused int
		var layer []int64
		for _, p := range s.patches {
			switch {
			case p > 4<<20:
				refused++
			case p > 1000:
				layer = append(layer, p)
			}
		}
		if want := []int64{4 << 20, 4 << 20, n - 8<<20}; refused != 1 || fmt.Sprint(layer) != fmt.Sprint(want) {
			t.Errorf("%d PATCHes refused, then layer chunks %v; want 1, then %v", refused, layer, want)
		}
		if countNotes(notes, "uploading in chunks of 4 MiB") != 1 {
			t.Errorf("notes %q, want one saying the upload goes on in 4 MiB chunks", notes)
		}
	})
	t.Run("registry minimum", func(t *testing.T) {
		host, s := newSessions(t, &sessions{minChunk: 3 << 20})
		img, l := bigImage(t, size)
		n, _ := l.Size()
		if _, err := pushWith(t, host+"/web/min:v1", img, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 1 << 20})); err != nil {
			t.Fatal(err)
		}
		var layer []int64
		for _, n := range s.patches {
			if n > 1000 {
				layer = append(layer, n)
			}
		}
		if want := []int64{3 << 20, 3 << 20, 3 << 20, n - 9<<20}; fmt.Sprint(layer) != fmt.Sprint(want) {
			t.Errorf("layer chunks %v, want %v (the announced minimum)", layer, want)
		}
	})
}

// TestECR: a registry whose Range stops advancing after the first chunk
// and that answers an empty final PUT with 500 takes a chunked upload when
// the policy ignores its Range and sends the last chunk in the PUT.
func TestECR(t *testing.T) {
	const size = 5<<20 + 3
	ecr := func() string {
		host, _ := newSessions(t, &sessions{staleRange: true, emptyPut500: true})
		return host
	}
	img, l := bigImage(t, size)
	p := publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 2 << 20, IgnoreRange: true, FinalChunkInPut: true}
	if _, err := pushWith(t, ecr()+"/web/ecr:v1", img, publish.WithUploadPolicy(p)); err != nil {
		t.Fatalf("Push() with an ECR policy = %v", err)
	}
	// Cut in the fourth chunk, with the Range stuck at the first: it
	// resumes from the last acknowledged chunk, not from the stale Range.
	host, s := newSessions(t, &sessions{staleRange: true, emptyPut500: true, cutMethod: http.MethodPatch, cutAt: 3<<20 + 5})
	cut := p
	cut.MaxChunk = 1 << 20
	pr, err := pushWith(t, host+"/web/ecr:v1", img, publish.WithUploadPolicy(cut))
	if err != nil {
		t.Fatalf("Push() with an ECR policy and a cut = %v", err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.Resumed != 1 || st.Restarted != 0 {
		t.Errorf("layer statistics %+v; want one resume", st)
	}
	if s.requests("GET /v2/web/ecr/blobs/uploads/ID") != 1 {
		t.Errorf("%d GETs of the upload's status, want 1", s.requests("GET /v2/web/ecr/blobs/uploads/ID"))
	}
	if want := blobBytesOf(t, img) + 6; s.received != want {
		t.Errorf("the registry read %d bytes, want %d (the blobs, and what it read of the cut chunk)", s.received, want)
	}
	// The same registry without those settings: the stale Range sends the
	// engine back to a chunk the registry has, which it refuses.
	p.IgnoreRange, p.FinalChunkInPut = false, false
	if _, err := pushWith(t, ecr()+"/web/ecr:v1", img, publish.WithUploadPolicy(p)); err == nil {
		t.Error("Push() believing a stale Range succeeded; the test registry does not behave like ECR")
	}
}

// TestMount: a mount answered 201 sends nothing and counts the blob as
// mounted; one answered 202 uploads into the session the registry opened,
// and the user hears of it once.
func TestMount(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refused=%v", refuse), func(t *testing.T) {
			host, s := newSessions(t, &sessions{})
			img, l := bigImage(t, 1<<20)
			if _, err := pushWith(t, host+"/staging/site:v1", img); err != nil {
				t.Fatal(err)
			}
			s.refuseMount = refuse
			var notes []string
			pr, err := pushWith(t, host+"/prod/site:v1", img, publish.WithMountFrom(host+"/staging/site"),
				publish.WithNotes(func(n string) { notes = append(notes, n) }))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := l.Digest()
			st := blobStat(t, pr, d)
			var refusals int
			for _, n := range notes {
				if strings.Contains(n, "did not mount blobs from staging/site") {
					refusals++
				}
			}
			if !refuse {
				if st.How != publish.BlobMounted || pr.SentBytes != 0 || pr.SkippedBlobs != 2 || refusals != 0 {
					t.Errorf("mount: %+v, %d notes of refusal; want the layer mounted, nothing sent", pr, refusals)
				}
				return
			}
			if st.How != publish.BlobUploaded || pr.SentBytes < 1<<20 || pr.SkippedBlobs != 0 || refusals != 1 {
				t.Errorf("refused mount: %+v, notes %q; want the blobs uploaded and one note", pr, notes)
			}
			if got := s.requests("POST /v2/prod/site/blobs/uploads/"); got != 2 {
				t.Errorf("%d POSTs to prod, want 2: the upload goes into the session the mount opened", got)
			}
		})
	}
}

// TestSecondRepositoryMounts: a tag in a second repository of the same
// registry mounts the blobs from the first.
func TestSecondRepositoryMounts(t *testing.T) {
	host, _ := newSessions(t, &sessions{})
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	img, l := bigImage(t, 1<<20)
	pr, err := r.Push(context.Background(), img, tags(t, r, host+"/web/site:v1", host+"/mirror/site:v1"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	var hows []string
	for _, b := range pr.Blobs {
		if b.Digest == d {
			hows = append(hows, b.Repository.RepositoryStr()+"="+string(b.How))
		}
	}
	if want := "[web/site=uploaded mirror/site=mounted]"; fmt.Sprint(hows) != want {
		t.Errorf("layer: %v, want %s", hows, want)
	}
}

// TestBlobDigestLie: a registry answering the blob PUT with another digest
// fails the push, naming the registry, the repository and the blob; no
// manifest is pushed.
func TestBlobDigestLie(t *testing.T) {
	host, s := newSessions(t, &sessions{lieDigest: true})
	img, _ := bigImage(t, 4096)
	_, err := pushWith(t, host+"/web/liar:v1", img)
	if !errors.Is(err, publish.ErrDigestMismatch) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "web/liar") || !strings.Contains(err.Error(), "sha256:") {
		t.Fatalf("Push() = %v, want ErrDigestMismatch naming the registry, repository and blob", err)
	}
	if n := s.requests("PUT /v2/web/liar/manifests/"); n != 0 {
		t.Errorf("%d manifest PUTs after a blob digest mismatch", n)
	}
}

// TestBlobRetryAfter: a 429 with Retry-After on a blob request is waited
// out, and the user hears of the wait once, naming the registry and the
// wait; then the upload goes on. A Retry-After longer than the push waits
// in all ends it at once, saying why.
func TestBlobRetryAfter(t *testing.T) {
	var throttled atomic.Int64
	wait := "1"
	host, _ := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && throttled.Add(1) == 1 {
			w.Header().Set("Retry-After", wait)
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}})
	img, _ := bigImage(t, 4096)
	var notes []string
	start := time.Now()
	if _, err := pushWith(t, host+"/web/throttled:v1", img, publish.WithJobs(1), publish.WithNotes(func(s string) { notes = append(notes, s) })); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("push took %v: the Retry-After of 1 s was not honoured", d)
	}
	if want := "note: " + host + " answered 429 Too Many Requests with Retry-After: waiting 1s before trying again"; countNotes(notes, want) != 1 {
		t.Errorf("notes %q, want one %q", notes, want)
	}

	throttled.Store(0)
	wait, notes = "3600", nil
	img, _ = bigImage(t, 4096)
	start = time.Now()
	_, err := pushWith(t, host+"/web/throttled:v2", img, publish.WithJobs(1), publish.WithNotes(func(s string) { notes = append(notes, s) }))
	if err == nil || !strings.Contains(err.Error(), "429") || time.Since(start) > 30*time.Second {
		t.Errorf("Push() with Retry-After: 3600 = %v after %v, want the 429 at once", err, time.Since(start))
	}
	if countNotes(notes, "Retry-After of 1h0m0s, more than is left of the 2m0s a push waits for one request: giving up") != 1 {
		t.Errorf("notes %q, want one saying why the push gave up", notes)
	}
}

// TestTokenExpiresMidUpload: a 401 on a streamed PATCH makes ggcr's bearer
// transport fetch a new token and send the request again, which a streamed
// body cannot be: the engine sends it anew from the session's offset
// instead of a truncated body, and the blob is whole.
func TestTokenExpiresMidUpload(t *testing.T) {
	var expired atomic.Bool
	host, s := newSessions(t, &sessions{tokens: true, expire: func(r *http.Request) bool {
		// The first PATCH finds its token expired.
		return r.Method == http.MethodPatch && expired.CompareAndSwap(false, true)
	}})
	img, l := bigImage(t, 2<<20)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(authn.NewMultiKeychain()),
		publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Streamed}))
	ts := tags(t, r, host+"/web/token:v1")
	pr, err := r.Push(context.Background(), img, ts)
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	if !expired.Load() || s.requests("GET /token") < 2 {
		t.Fatalf("the token never expired (%d token requests): the test tested nothing", s.requests("GET /token"))
	}
	resumed := 0
	for _, b := range pr.Blobs {
		resumed += b.Resumed
	}
	// The config's PATCH may have been under way with the same token.
	if resumed < 1 {
		t.Errorf("blob statistics %+v; want a resume after the 401", pr.Blobs)
	}
	readsBack(t, r, host+"/web/token:v1", blobBytes(t, l))
}

// TestProgressMonotonic: progress never goes back, even when an upload
// resumes before bytes it had counted, and ends complete.
func TestProgressMonotonic(t *testing.T) {
	host, _ := newSessions(t, &sessions{cutMethod: http.MethodPatch, cutAt: 5 << 20})
	img, _ := bigImage(t, 8<<20)
	var mu sync.Mutex
	var seen []publish.Progress
	_, err := pushWith(t, host+"/web/progress:v1", img, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Streamed}),
		publish.WithProgress(func(p publish.Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Complete < seen[i-1].Complete || seen[i].Complete > seen[i].Total {
			t.Fatalf("progress went from %+v to %+v", seen[i-1], seen[i])
		}
	}
	if last := seen[len(seen)-1]; last.Complete != last.Total {
		t.Errorf("progress ended at %+v", last)
	}
}

// TestEarlyUploadChunked: under a Chunked policy an early upload (size
// unknown while it streams) goes in chunks of declared length, resumes in
// its session after a cut (reading the source again from the start to the
// offset), and completes with the digest.
func TestEarlyUploadChunked(t *testing.T) {
	host, s := newSessions(t, &sessions{maxPatch: 1 << 20, cutMethod: http.MethodPatch, cutAt: 2<<20 + 7})
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 1 << 20}))
	l, _ := random.Layer(4<<20, types.OCIUncompressedLayer)
	body := blobBytes(t, l)
	var opened atomic.Int64
	open := func() io.ReadCloser { opened.Add(1); return io.NopCloser(bytes.NewReader(body)) }
	pr, err := pushEarly(t, r, host+"/web/earlychunks:v1", l, open, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	if st := blobStat(t, pr, d); st.How != publish.BlobEarlyUpload || st.Resumed != 1 {
		t.Errorf("layer statistics %+v; want an early upload resumed once", st)
	}
	if opened.Load() != 2 {
		t.Errorf("the layer was opened %d times, want 2 (once more to resume)", opened.Load())
	}
	for _, n := range s.patches {
		if n < 0 || n > 1<<20 {
			t.Errorf("a PATCH declared %d bytes, want at most 1 MiB", n)
		}
	}
	readsBack(t, r, host+"/web/earlychunks:v1", body)
}
