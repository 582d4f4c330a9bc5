//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
)

// The upload engine against the real registry (Debian's distribution 2.8)
// behind a proxy that misbehaves the way networks and registries do:
// connections cut at a byte offset, GHCR's 4 MiB PATCH limit, an announced
// minimum chunk, mounts ignored, Retry-After, a lying Docker-Content-Digest.

// blobProxy forwards to a registry, counts the blob bytes it reads from
// the client, and lets a test change what happens to blob requests.
type blobProxy struct {
	t        *testing.T
	registry string // host:port
	host     string // the proxy's host:port

	// buffer: read a blob request's body whole before forwarding it, as
	// nginx does by default (proxy_request_buffering): a request cut in its
	// middle never reaches the registry. Otherwise the body streams on, and
	// the registry stores what came before the cut.
	buffer bool
	// cutAt: the first request whose body goes past this byte of its blob
	// has its client connection reset there (once per push).
	cutAt int64
	// maxPatch: a PATCH declaring more (or no length) is answered 416, as
	// GHCR does.
	maxPatch int64
	// minChunk is announced as OCI-Chunk-Min-Length in answers to POST.
	minChunk int64
	// hook may answer a request first (true: answered).
	hook func(w http.ResponseWriter, r *http.Request) bool
	// rewrite may change the registry's answer to a request.
	rewrite func(r *http.Request, resp *http.Response)

	mu       sync.Mutex
	received int64            // blob body bytes read from the client
	offsets  map[string]int64 // bytes forwarded per upload session
	cuts     int              // connections cut
	patches  []int64          // declared PATCH lengths
	log      []string
}

var uploadID = regexp.MustCompile(`/blobs/uploads/[^/?]+`)

func newBlobProxy(t *testing.T, registry string, p *blobProxy) *blobProxy {
	t.Helper()
	p.t, p.registry = t, registry
	p.offsets = map[string]int64{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.host = l.Addr().String()
	srv := &http.Server{Handler: p}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *blobProxy) count(prefix string) (n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

var upstream = &http.Transport{DisableCompression: true}

func (p *blobProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.log = append(p.log, r.Method+" "+uploadID.ReplaceAllString(r.URL.Path, "/blobs/uploads/ID"))
	p.mu.Unlock()
	if p.hook != nil && p.hook(w, r) {
		return
	}
	session := uploadID.FindString(r.URL.Path)
	blobBody := session != "" && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
	if r.Method == http.MethodPatch {
		p.mu.Lock()
		p.patches = append(p.patches, r.ContentLength)
		p.mu.Unlock()
		if p.maxPatch > 0 && (r.ContentLength < 0 || r.ContentLength > p.maxPatch) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			fmt.Fprintf(w, `{"errors":[{"code":"REQUESTED_RANGE_NOT_SATISFIABLE","message":"the request body is too large and exceeds the maximum permissible limit of %.2fMiB"}]}`, float64(p.maxPatch)/(1<<20))
			return
		}
	}
	var body io.Reader = r.Body
	length := r.ContentLength
	cutHere := false
	if blobBody {
		p.mu.Lock()
		offset := p.offsets[session]
		limit := int64(-1)
		if p.cutAt > 0 && p.cuts == 0 && offset <= p.cutAt {
			limit = p.cutAt - offset
		}
		p.mu.Unlock()
		var head []byte
		if limit >= 0 {
			head, _ = io.ReadAll(io.LimitReader(r.Body, limit))
			var one [1]byte
			if n, _ := io.ReadFull(r.Body, one[:]); n == 1 {
				head = append(head, one[0])
				cutHere = true
			}
		}
		if p.buffer || cutHere {
			rest := []byte{}
			if !cutHere {
				rest, _ = io.ReadAll(r.Body)
			}
			head = append(head, rest...)
		}
		p.mu.Lock()
		p.received += int64(len(head))
		if cutHere {
			p.cuts++
		}
		p.mu.Unlock()
		switch {
		case cutHere && p.buffer:
			// The cut request never reaches the registry.
			resetClient(w)
			return
		case cutHere:
			// The registry gets the bytes before the cut, then a broken
			// request.
			body = io.MultiReader(bytes.NewReader(head), errReader{})
		case p.buffer || limit >= 0:
			body = io.MultiReader(bytes.NewReader(head), &countReader{r: r.Body, p: p})
			if p.buffer {
				length = int64(len(head))
			}
		default:
			body = &countReader{r: r.Body, p: p}
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.registry+r.URL.RequestURI(), body)
	if err != nil {
		p.t.Error(err)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host // the registry builds upload URLs from it: they stay on the proxy
	out.ContentLength = length
	resp, err := upstream.RoundTrip(out)
	if cutHere {
		if err == nil {
			resp.Body.Close()
		}
		resetClient(w)
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if r.Method == http.MethodPost && p.minChunk > 0 {
		resp.Header.Set("OCI-Chunk-Min-Length", strconv.FormatInt(p.minChunk, 10))
	}
	if p.rewrite != nil {
		p.rewrite(r, resp)
	}
	if blobBody && resp.StatusCode < 300 {
		p.mu.Lock()
		if rng := resp.Header.Get("Range"); rng != "" {
			if _, end, ok := strings.Cut(rng, "-"); ok {
				if n, err := strconv.ParseInt(end, 10, 64); err == nil {
					p.offsets[session] = n + 1
				}
			}
		}
		p.mu.Unlock()
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

type countReader struct {
	r io.Reader
	p *blobProxy
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.mu.Lock()
	c.p.received += int64(n)
	c.p.mu.Unlock()
	return n, err
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client connection reset") }

// resetClient closes the client's connection with a reset.
func resetClient(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// buildSite builds a tree with one incompressible file of size bytes (a
// layer of its own) and a few pages, gzip-compressed, through the library.
func buildSite(t *testing.T, size int) *builder.Result {
	t.Helper()
	src := filepath.Join(t.TempDir(), "site")
	makeSource(t, src)
	b := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(b)
	os.MkdirAll(filepath.Join(src, "weights"), 0o755)
	if err := os.WriteFile(filepath.Join(src, "weights", "shard.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := builder.Build(context.Background(), src, builder.WithGit(false), builder.WithCompression(builder.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// pushLib pushes res to ref through the library.
func pushLib(t *testing.T, res *builder.Result, ref string, opts ...publish.RegistryOption) (*publish.PushResult, error) {
	t.Helper()
	fast := remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 5}
	r, err := publish.NewRegistry(append([]publish.RegistryOption{publish.WithRetryBackoff(fast)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := r.ParseTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.Push(context.Background(), res.Artifact(), []name.Tag{tag})
}

// checkPushed checks that the registry serves the image res built under
// ref (crane reads it back and checks every blob's digest) and that the
// push reported that digest.
func checkPushed(t *testing.T, ref string, res *builder.Result, pr *publish.PushResult) {
	t.Helper()
	if pr.Digest != res.Digest {
		t.Errorf("pushed %s, built %s", pr.Digest, res.Digest)
	}
	crane := tool(t, "crane")
	if got := strings.TrimSpace(run(t, "/", crane, "digest", "--insecure", ref)); got != res.Digest.String() {
		t.Errorf("crane digest %s = %s, want %s", ref, got, res.Digest)
	}
	run(t, "/", crane, "validate", "--insecure", "--remote", ref)
}

// blobBytes is the size of every blob of res.
func resBlobBytes(t *testing.T, res *builder.Result) int64 {
	t.Helper()
	var n int64
	for _, l := range res.Layers {
		s, _ := l.Size()
		n += s
	}
	cfg, _ := res.Image.RawConfigFile()
	return n + int64(len(cfg))
}

// largest is the digest and size of res's largest layer.
func largest(res *builder.Result) (v1.Hash, int64) {
	var d v1.Hash
	var size int64
	for _, l := range res.Layers {
		if s, _ := l.Size(); s > size {
			size = s
			d, _ = l.Digest()
		}
	}
	return d, size
}

func statOf(t *testing.T, pr *publish.PushResult, d v1.Hash) publish.BlobStat {
	t.Helper()
	for _, b := range pr.Blobs {
		if b.Digest == d {
			return b
		}
	}
	t.Fatalf("no statistics for %s: %+v", d, pr.Blobs)
	return publish.BlobStat{}
}

// TestResumeChunked: a chunked upload cut in its middle (behind a proxy
// that buffers requests, so the registry never sees the cut chunk) resumes
// in the same session from the Range the registry reports: the proxy reads
// under 1.1x the blobs. Every PATCH declares at most GHCR's 4 MiB (the
// proxy answers more with 416, as GHCR does); with an announced
// OCI-Chunk-Min-Length above the policy's size, chunks have that length.
func TestResumeChunked(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	res := buildSite(t, 30<<20)
	d, size := largest(res)
	if size < 30<<20 {
		t.Fatalf("largest layer has %d bytes", size)
	}

	t.Run("cut", func(t *testing.T) {
		p := newBlobProxy(t, reg.Host, &blobProxy{buffer: true, cutAt: 10<<20 + 1234, maxPatch: 4 << 20})
		ref := p.host + "/chunked/site:v1"
		pr, err := pushLib(t, res, ref, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked}))
		if err != nil {
			t.Fatalf("Push() = %v", err)
		}
		checkPushed(t, reg.Host+"/chunked/site:v1", res, pr)
		if st := statOf(t, pr, d); st.Resumed != 1 || st.Restarted != 0 || st.Sent < size {
			t.Errorf("the large layer: %+v; want one resume, no restart", st)
		}
		total := resBlobBytes(t, res)
		if p.received > total+total/10 {
			t.Errorf("the proxy read %d blob bytes for %d bytes of blobs (%.2fx): not resumed", p.received, total, float64(p.received)/float64(total))
		}
		t.Logf("proxy read %d bytes for %d bytes of blobs (%.3fx); %d GETs of an upload's status",
			p.received, total, float64(p.received)/float64(total), p.count("GET /v2/chunked/site/blobs/uploads/ID"))
		for _, n := range p.patches {
			if n < 0 || n > 4<<20 {
				t.Errorf("a PATCH declared %d bytes; want at most 4 MiB, declared", n)
			}
		}
	})

	t.Run("minimum", func(t *testing.T) {
		p := newBlobProxy(t, reg.Host, &blobProxy{minChunk: 6 << 20})
		ref := p.host + "/minchunk/site:v1"
		pr, err := pushLib(t, res, ref, publish.WithUploadPolicy(publish.UploadPolicy{Mode: publish.Chunked, MaxChunk: 4 << 20}))
		if err != nil {
			t.Fatalf("Push() = %v", err)
		}
		checkPushed(t, reg.Host+"/minchunk/site:v1", res, pr)
		full := 0
		for _, n := range p.patches {
			switch {
			case n == 6<<20:
				full++
			case n > 6<<20 || n < 0:
				t.Errorf("a PATCH declared %d bytes; want chunks of the announced 6 MiB", n)
			}
		}
		if want := int(size / (6 << 20)); full != want {
			t.Errorf("%d PATCHes of 6 MiB, want %d (the large layer)", full, want)
		}
	})
}

// TestResumeSessionGone: a request cut in its middle whose first bytes
// reached the registry leaves distribution 2.8 with more bytes than the
// upload URL's state says: it cancels the session when asked for its
// status, and the upload starts again from zero in a new one. The same
// for an early upload from the real binary (the layer's bytes are encoded
// again from the files), behind a proxy that buffers (resumed from zero in
// the same session) or not (a new session).
func TestResumeSessionGone(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	res := buildSite(t, 12<<20)
	d, size := largest(res)

	t.Run("monolithic", func(t *testing.T) {
		p := newBlobProxy(t, reg.Host, &blobProxy{cutAt: 5 << 20})
		pr, err := pushLib(t, res, p.host+"/gone/site:v1")
		if err != nil {
			t.Fatalf("Push() = %v", err)
		}
		checkPushed(t, reg.Host+"/gone/site:v1", res, pr)
		if st := statOf(t, pr, d); st.Restarted != 1 || st.Resumed != 0 || st.Sent < size+5<<20 {
			t.Errorf("the large layer: %+v; want one restart in a new session, the cut bytes and the whole blob sent", st)
		}
		if want := resBlobBytes(t, res) + 5<<20; p.received < want {
			t.Errorf("the proxy read %d bytes, want at least %d (the cut bytes, then the blobs)", p.received, want)
		}
		if n := p.count("POST /v2/gone/site/blobs/uploads/"); n != len(res.Layers)+2 {
			t.Errorf("%d POSTs, want %d (one per blob, and the large one again)", n, len(res.Layers)+2)
		}
	})

	// An early upload: build --push without a cache streams the
	// uncompressed shard while it is hashed. The repositories are tagged
	// first (another image, none of whose blobs the build has), so that
	// the compressed layers wait for their digests (TestFirstPushStreams):
	// only the shard streams.
	work := t.TempDir()
	src := filepath.Join(work, "src")
	makeSource(t, src)
	b := make([]byte, 20<<20)
	rand.NewChaCha8([32]byte{9}).Read(b)
	os.WriteFile(filepath.Join(src, "shard.bin"), b, 0o644)
	clean := buildOut(t, work, nil, src, "--git=false", "-o", "oci:clean", "--no-cache", "--json")
	for _, buffer := range []bool{false, true} {
		t.Run(fmt.Sprintf("early/buffering=%v", buffer), func(t *testing.T) {
			p := newBlobProxy(t, reg.Host, &blobProxy{buffer: buffer, cutAt: 8 << 20})
			repo := fmt.Sprintf("early%v/site", buffer)
			tagWithOther(t, reg.Host+"/"+repo+":v0")
			got := buildOut(t, work, nil, src, "--git=false", "-t", p.host+"/"+repo+":v1", "--push", "--no-cache", "--json")
			if got.Digest != clean.Digest {
				t.Errorf("pushed %s, built %s", got.Digest, clean.Digest)
			}
			if p.count("PATCH") != 2 || p.count("GET /v2/"+repo+"/blobs/uploads/ID") != 1 {
				t.Errorf("%d PATCHes, %d GETs of an upload's status: want the shard streamed early, cut, and sent again after one GET",
					p.count("PATCH"), p.count("GET /v2/"+repo+"/blobs/uploads/ID"))
			}
			// Behind a buffering proxy the session is intact (resumed from
			// its offset, 0); otherwise distribution cancels it (restart).
			posts := len(clean.Layers) + 1
			if !buffer {
				posts++
			}
			if n := p.count("POST /v2/" + repo + "/blobs/uploads/"); n != posts {
				t.Errorf("%d POSTs, want %d", n, posts)
			}
			crane := tool(t, "crane")
			if d := strings.TrimSpace(run(t, work, crane, "digest", "--insecure", reg.Host+"/"+repo+":v1")); d != clean.Digest {
				t.Errorf("registry has %s, want %s", d, clean.Digest)
			}
			// skopeo checks every blob's digest as it copies.
			run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+reg.Host+"/"+repo+":v1", "oci:"+filepath.Join(t.TempDir(), "copy")+":x")
		})
	}
}

// tagWithOther writes a small random image to ref, so that its repository
// has a tag.
func tagWithOther(t *testing.T, ref string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// TestFirstPushStreams: into a repository with no tag, build --push sends
// a compressed layer while it is being compressed (a PATCH, completed with
// the digest), and what the registry holds is the image the build
// describes, every blob checked by skopeo; into the same repository, now
// tagged, a changed layer waits for its digest and goes up whole (no
// PATCH).
func TestFirstPushStreams(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	makeSource(t, src)
	// 24 MiB of text: a layer that takes a while to compress.
	var text bytes.Buffer
	for i := 0; text.Len() < 24<<20; i++ {
		fmt.Fprintf(&text, "line %d of a large compressible document\n", i)
	}
	os.WriteFile(filepath.Join(src, "doc.txt"), text.Bytes(), 0o644)
	clean := buildOut(t, work, nil, src, "--git=false", "-o", "oci:clean", "--no-cache", "--json")

	p := newBlobProxy(t, reg.Host, &blobProxy{})
	got := buildOut(t, work, nil, src, "--git=false", "-t", p.host+"/first/site:v1", "--push", "--no-cache", "--json")
	if got.Digest != clean.Digest {
		t.Errorf("pushed %s, built %s", got.Digest, clean.Digest)
	}
	if p.count("GET /v2/first/site/tags/list") != 1 || p.count("PATCH") < 1 {
		t.Errorf("%d tag listings, %d PATCHes; want one listing and the large layer streamed", p.count("GET /v2/first/site/tags/list"), p.count("PATCH"))
	}
	if d := strings.TrimSpace(run(t, work, tool(t, "crane"), "digest", "--insecure", reg.Host+"/first/site:v1")); d != clean.Digest {
		t.Errorf("registry has %s, want %s", d, clean.Digest)
	}
	run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+reg.Host+"/first/site:v1", "oci:"+filepath.Join(t.TempDir(), "copy")+":x")

	// Tagged now: the changed layer goes up whole.
	os.WriteFile(filepath.Join(src, "doc.txt"), append(text.Bytes(), "one more line\n"...), 0o644)
	q := newBlobProxy(t, reg.Host, &blobProxy{})
	buildOut(t, work, nil, src, "--git=false", "-t", q.host+"/first/site:v2", "--push", "--no-cache", "--json")
	if q.count("PATCH") != 0 {
		t.Errorf("%d PATCHes into a tagged repository; want every layer uploaded whole", q.count("PATCH"))
	}
	run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+reg.Host+"/first/site:v2", "oci:"+filepath.Join(t.TempDir(), "copy2")+":x")
}

// TestPushMountFrom: a second push with WithMountFrom mounts every blob (201,
// nothing sent); when the registry ignores the mount (the proxy drops its
// parameters: distribution then opens a session, 202), the blobs are
// uploaded into that session and the user hears of it once.
func TestPushMountFrom(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	res := buildSite(t, 2<<20)
	if pr, err := pushLib(t, res, reg.Host+"/staging/site:v1"); err != nil || pr.SentBytes == 0 {
		t.Fatalf("Push() = %+v, %v", pr, err)
	}
	var notes []string
	pr, err := pushLib(t, res, reg.Host+"/prod/site:v1", publish.WithMountFrom(reg.Host+"/staging/site"),
		publish.WithNotes(func(n string) { notes = append(notes, n) }))
	if err != nil {
		t.Fatal(err)
	}
	checkPushed(t, reg.Host+"/prod/site:v1", res, pr)
	for _, b := range pr.Blobs {
		if b.How != publish.BlobMounted {
			t.Errorf("blob %s: %s, want mounted", b.Digest, b.How)
		}
	}
	if pr.SentBytes != 0 || pr.SkippedBlobs != int64(len(res.Layers)+1) {
		t.Errorf("mounted push: sent %d bytes, skipped %d blobs", pr.SentBytes, pr.SkippedBlobs)
	}

	p := newBlobProxy(t, reg.Host, &blobProxy{hook: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			r.URL.RawQuery = "" // the registry never hears of the mount
		}
		return false
	}})
	notes = nil
	pr, err = pushLib(t, res, p.host+"/ignored/site:v1", publish.WithMountFrom(p.host+"/staging/site"),
		publish.WithNotes(func(n string) { notes = append(notes, n) }))
	if err != nil {
		t.Fatal(err)
	}
	checkPushed(t, reg.Host+"/ignored/site:v1", res, pr)
	refusals := 0
	for _, n := range notes {
		if strings.Contains(n, "did not mount blobs from staging/site") {
			refusals++
		}
	}
	if refusals != 1 {
		t.Errorf("notes %q; want one saying the registry did not mount", notes)
	}
	for _, b := range pr.Blobs {
		if b.How != publish.BlobUploaded {
			t.Errorf("blob %s: %s, want uploaded", b.Digest, b.How)
		}
	}
	if n := p.count("POST /v2/ignored/site/blobs/uploads/"); n != len(res.Layers)+1 {
		t.Errorf("%d POSTs, want one per blob: the upload goes into the session the mount opened", n)
	}
}

// TestPushRetryAfter: a 429 with Retry-After on the first blob upload is
// waited out, then the push completes.
func TestPushRetryAfter(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	res := buildSite(t, 1<<20)
	var once sync.Once
	p := newBlobProxy(t, reg.Host, &blobProxy{hook: func(w http.ResponseWriter, r *http.Request) bool {
		throttle := false
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			once.Do(func() { throttle = true })
		}
		if throttle {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}
		return throttle
	}})
	start := time.Now()
	pr, err := pushLib(t, res, p.host+"/throttled/site:v1", publish.WithJobs(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("the push took %v: Retry-After: 2 was not honoured", d)
	}
	checkPushed(t, reg.Host+"/throttled/site:v1", res, pr)
}

// TestPushBlobDigestLie: a registry (here a proxy) whose answer to a blob
// PUT names another digest fails the push with a digest mismatch naming
// the blob, and no manifest is pushed.
func TestPushBlobDigestLie(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	lie := "sha256:" + strings.Repeat("1", 64)
	p := newBlobProxy(t, reg.Host, &blobProxy{rewrite: func(r *http.Request, resp *http.Response) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			resp.Header.Set("Docker-Content-Digest", lie)
		}
	}})
	r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", p.host+"/liar/site:v1", "--push")
	if r.code != 1 || !strings.Contains(r.stderr, "different digest") || !strings.Contains(r.stderr, lie) || !strings.Contains(r.stderr, "liar/site") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if n := p.count("PUT /v2/liar/site/manifests/"); n != 0 {
		t.Errorf("%d manifest PUTs after a blob digest mismatch", n)
	}
	if tagExists(t, reg.Host+"/liar/site:v1") {
		t.Error("the tag exists")
	}
}
