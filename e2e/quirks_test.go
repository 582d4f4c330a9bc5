//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assetpack/assetpack/publish"
)

// The quirk proxy: registries as users meet them, in front of the real
// registry (Debian's docker-registry, distribution 2.8). Each profile
// reproduces what a registry's documentation or its users' reports say it
// does; every behaviour has its source beside it.
//
// Besides a profile's quirks, the proxy resets the client's connection once
// per upload session, in the middle of the first blob request that goes far
// enough, the way a flaky network does. It keeps what arrived before the
// cut, as a registry whose front streams requests does (distribution itself
// stores the bytes of a cut request): the bytes before the cut are sent on
// to the registry as a PATCH of their own, and the registry's upload
// state, which distribution carries in the upload URL (_state, signed),
// follows the session in the proxy, so that the client's next request, made
// with the URL it had before the cut, reaches the session as it now
// stands. It counts every body byte it reads from the client: "bytes sent".

// quirks is what a profile makes the proxy do.
type quirks struct {
	// patchLimit: a PATCH that declares more is answered "416
	// REQUESTED_RANGE_NOT_SATISFIABLE … exceeds the maximum permissible
	// limit of 4.00MiB" (GHCR: ocx-sh/ocx#237, oras-project/rust-oci-client#35);
	// a PATCH of undeclared length is taken, as GHCR takes ggcr's streams.
	patchLimit int64
	// noReferrers: the referrers API answers 404 (GHCR has none).
	noReferrers bool
	// staleRange: the Range of PATCH answers stays at the end of the
	// session's first PATCH while the bytes are stored
	// (aws/containers-roadmap#2831); patch201: PATCH answers 201
	// (cirruslabs/tart#273); emptyPut500: an empty PUT after PATCHes
	// answers 500 (cirruslabs/tart#159). ECR.
	staleRange, patch201, emptyPut500 bool
	// refusePatch: every PATCH answers 405 UNSUPPORTED: the registry takes
	// blobs only in one PUT (issue 21: "some registries accept only
	// monolithic uploads"; Artifact Registry documents no chunked uploads).
	refusePatch bool
	// minChunk is announced as OCI-Chunk-Min-Length in answers to POST
	// (distribution spec 1.1); bodyLimit refuses a request body over it
	// with nginx's 413 page (client_max_body_size, which Docker's nginx
	// recipe for a registry warns about; replicatedhq/ttl.sh#104).
	minChunk, bodyLimit int64
	// mount202: mount parameters never reach the registry, which opens a
	// session (202) instead of mounting (the spec lets a registry do so).
	mount202 bool
	// every429: every so many blob requests answer 429 with Retry-After: 1,
	// as rate-limited registries do (Docker Hub's usage limits).
	every429 int
	// tokenTTL: the proxy is the registry's token server (a Bearer
	// challenge with its realm) and its tokens expire after this long; an
	// expired token gets 401 with the challenge, as in a long upload.
	tokenTTL time.Duration
	// stall: the first blob request of each session stops being read
	// halfway, for longer than the client's timeout, then the connection
	// drops (in place of the reset).
	stall time.Duration
	// lieDigest: the answer to a blob's PUT names another digest.
	lieDigest bool
}

// quirkProxy forwards to the registry with a profile's quirks.
type quirkProxy struct {
	t        testing.TB
	registry string // host:port
	host     string // the proxy's host:port
	q        quirks
	// streamCut is where a body of undeclared length is cut; one of known
	// length is cut at half.
	streamCut int64
	// cutMin: a body of known length shorter than this is not cut.
	cutMin int64
	user   string // token server credentials (user:password)
	pass   string

	mu       sync.Mutex
	received int64
	latest   map[string]string // session → the registry's last Location for it
	offset   map[string]int64  // session → bytes the registry holds
	cut      map[string]bool   // session → reset (or stall) done
	patches  map[string]int    // session → PATCHes answered
	firstEnd map[string]string // session → Range after its first PATCH (staleRange)
	tokens   map[string]time.Time
	// busy holds a session while the bytes before a cut go on to the
	// registry: the client's next request on it waits for them.
	busy     map[string]*sync.Mutex
	counts   map[string]int // what happened: "reset", "stall", "416", "413", "429", "401", "405", "500", "token", "manifest PUT", "mount"
	requests int
}

var sessionPath = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([^/]+)$`)

func newQuirkProxy(t testing.TB, registry string, q quirks, streamCut int64) *quirkProxy {
	t.Helper()
	p := &quirkProxy{t: t, registry: registry, q: q, streamCut: streamCut, user: "quirk-user", pass: "Quirk-Pa55",
		latest: map[string]string{}, offset: map[string]int64{}, cut: map[string]bool{}, patches: map[string]int{},
		firstEnd: map[string]string{}, tokens: map[string]time.Time{}, counts: map[string]int{}, busy: map[string]*sync.Mutex{}}
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

func (p *quirkProxy) count(what string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[what]
}

func (p *quirkProxy) bump(what string) {
	p.mu.Lock()
	p.counts[what]++
	p.mu.Unlock()
}

func (p *quirkProxy) bytesSent() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received
}

func regErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func (p *quirkProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := p.q
	if q.tokenTTL > 0 {
		if r.URL.Path == "/token" {
			p.serveToken(w, r)
			return
		}
		if !p.validToken(r) {
			p.bump("401")
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="quirk-registry"`, p.host))
			regErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
		r.Header.Del("Authorization")
	}
	if q.noReferrers && strings.Contains(r.URL.Path, "/referrers/") {
		regErr(w, http.StatusNotFound, "NAME_UNKNOWN", "not found")
		return
	}
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
		p.bump("manifest PUT")
	}
	if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
		p.bump("mount")
		if q.mount202 {
			r.URL.RawQuery = ""
		}
	}
	m := sessionPath.FindStringSubmatch(r.URL.Path)
	blobBody := m != nil && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
	session := ""
	if m != nil {
		session = m[2]
	}
	if blobBody {
		p.mu.Lock()
		p.requests++
		n := p.requests
		patched := p.patches[session]
		p.mu.Unlock()
		switch {
		case q.every429 > 0 && n%q.every429 == 0:
			p.bump("429")
			w.Header().Set("Retry-After", "1")
			regErr(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "rate limit exceeded, retry later")
			return
		case q.refusePatch && r.Method == http.MethodPatch:
			p.bump("405")
			regErr(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
			return
		case q.patchLimit > 0 && r.Method == http.MethodPatch && r.ContentLength > q.patchLimit:
			p.bump("416")
			regErr(w, http.StatusRequestedRangeNotSatisfiable, "REQUESTED_RANGE_NOT_SATISFIABLE",
				fmt.Sprintf("the request body is too large and exceeds the maximum permissible limit of %.2fMiB", float64(q.patchLimit)/(1<<20)))
			return
		case q.bodyLimit > 0 && (r.ContentLength > q.bodyLimit || (r.ContentLength < 0 && r.Method == http.MethodPatch)):
			p.bump("413")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
			return
		case q.emptyPut500 && r.Method == http.MethodPut && r.ContentLength == 0 && patched > 0:
			p.bump("500")
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	if session != "" {
		busy := p.sessionLock(session)
		busy.Lock()
		busy.Unlock() // a cut's bytes are with the registry
		p.followSession(r, session)
	}
	if blobBody && p.cutHere(w, r, session) {
		return
	}
	p.forward(w, r, session, blobBody)
}

func (p *quirkProxy) sessionLock(session string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy[session] == nil {
		p.busy[session] = &sync.Mutex{}
	}
	return p.busy[session]
}

// serveToken hands out tokens that expire after the profile's TTL, to the
// proxy's user.
func (p *quirkProxy) serveToken(w http.ResponseWriter, r *http.Request) {
	if u, pw, ok := r.BasicAuth(); !ok || u != p.user || pw != p.pass {
		w.Header().Set("WWW-Authenticate", `Basic realm="quirk-registry"`)
		http.Error(w, "credentials required", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	p.counts["token"]++
	tok := fmt.Sprintf("quirk-token-%d", p.counts["token"])
	p.tokens[tok] = time.Now().Add(p.q.tokenTTL)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": int(p.q.tokenTTL.Seconds())})
}

func (p *quirkProxy) validToken(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.tokens[tok]
	return ok && time.Now().Before(exp)
}

// followSession points a request on an upload session at the session's
// latest state (the client may hold a URL from before a cut).
func (p *quirkProxy) followSession(r *http.Request, session string) {
	p.mu.Lock()
	latest := p.latest[session]
	p.mu.Unlock()
	if latest == "" {
		return
	}
	u, err := url.Parse(latest)
	if err != nil {
		return
	}
	qs := r.URL.Query()
	qs.Set("_state", u.Query().Get("_state"))
	r.URL.RawQuery = qs.Encode()
}

// cutHere resets (or stalls, then drops) the client's connection in the
// middle of the first blob request of a session that goes far enough; what
// came before the cut goes on to the registry as it arrives, in a PATCH of
// its own. It reports whether it answered the request.
func (p *quirkProxy) cutHere(w http.ResponseWriter, r *http.Request, session string) bool {
	p.mu.Lock()
	done := p.cut[session]
	off := p.offset[session]
	p.mu.Unlock()
	if done {
		return false
	}
	declared := r.ContentLength >= 0
	k := p.streamCut
	if declared {
		if r.ContentLength < max(2, p.cutMin) {
			return false
		}
		k = r.ContentLength / 2
	}
	busy := p.sessionLock(session)
	busy.Lock()
	// The first k bytes go on as they arrive (a body of unknown length in
	// a PATCH of unknown length: it may end before k).
	req, _ := http.NewRequest(http.MethodPatch, "http://"+p.registry+r.URL.Path+"?"+stateOnly(r.URL), &proxyCount{r: io.LimitReader(r.Body, k), p: p})
	req.Host = r.Host
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = -1
	if declared {
		req.ContentLength = k
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+k-1))
	}
	resp, err := upstream.RoundTrip(req)
	if err != nil {
		busy.Unlock()
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	defer resp.Body.Close()
	p.track(session, resp)
	if resp.StatusCode == http.StatusAccepted {
		p.mu.Lock()
		p.patches[session]++
		if _, ok := p.firstEnd[session]; !ok {
			p.firstEnd[session] = resp.Header.Get("Range")
		}
		p.mu.Unlock()
	}
	var one [1]byte
	if n, _ := io.ReadFull(r.Body, one[:]); n == 0 {
		// A stream that ended before the cut: that PATCH was the request.
		busy.Unlock()
		p.respond(w, r, session, resp)
		return true
	}
	p.mu.Lock()
	p.received++
	p.cut[session] = true
	p.mu.Unlock()
	busy.Unlock()
	if p.q.stall > 0 {
		p.bump("stall")
		time.Sleep(p.q.stall)
	} else {
		p.bump("reset")
	}
	resetClient(w)
	return true
}

// stateOnly is the query of an upload URL without the digest (the head of
// a cut PUT goes in a PATCH).
func stateOnly(u *url.URL) string {
	qs := u.Query()
	qs.Del("digest")
	return qs.Encode()
}

// track notes what the registry said of a session: its next URL and how
// much it holds.
func (p *quirkProxy) track(session string, resp *http.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if loc := resp.Header.Get("Location"); loc != "" && session != "" {
		p.latest[session] = loc
	}
	if rng := resp.Header.Get("Range"); rng != "" && session != "" {
		if _, end, ok := strings.Cut(rng, "-"); ok {
			if n, err := strconv.ParseInt(end, 10, 64); err == nil {
				p.offset[session] = n + 1
			}
		}
	}
}

func (p *quirkProxy) forward(w http.ResponseWriter, r *http.Request, session string, blobBody bool) {
	var body io.Reader = r.Body
	if blobBody {
		body = &proxyCount{r: r.Body, p: p}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.registry+r.URL.RequestURI(), body)
	if err != nil {
		p.t.Error(err)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host // distribution builds upload URLs from it: they stay on the proxy
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := upstream.RoundTrip(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if session != "" {
		p.track(session, resp)
	}
	p.respond(w, r, session, resp)
}

// respond relays the registry's answer to a request, with the profile's
// changes to it.
func (p *quirkProxy) respond(w http.ResponseWriter, r *http.Request, session string, resp *http.Response) {
	if r.Method == http.MethodPost && resp.StatusCode == http.StatusAccepted {
		if loc := resp.Header.Get("Location"); loc != "" {
			if m := sessionPath.FindStringSubmatch(strings.SplitN(mustPath(loc), "?", 2)[0]); m != nil {
				p.track(m[2], resp)
			}
		}
		if p.q.minChunk > 0 {
			resp.Header.Set("OCI-Chunk-Min-Length", strconv.FormatInt(p.q.minChunk, 10))
		}
	}
	if r.Method == http.MethodPatch && resp.StatusCode == http.StatusAccepted {
		p.mu.Lock()
		p.patches[session]++
		if p.q.staleRange {
			if first, ok := p.firstEnd[session]; ok {
				resp.Header.Set("Range", first)
			} else {
				p.firstEnd[session] = resp.Header.Get("Range")
			}
		}
		p.mu.Unlock()
		if p.q.patch201 {
			resp.StatusCode = http.StatusCreated
		}
	}
	if p.q.lieDigest && r.Method == http.MethodPut && session != "" && resp.StatusCode == http.StatusCreated {
		resp.Header.Set("Docker-Content-Digest", "sha256:"+strings.Repeat("1", 64))
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func mustPath(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	return u.Path
}

type proxyCount struct {
	r io.Reader
	p *quirkProxy
}

func (c *proxyCount) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.mu.Lock()
	c.p.received += int64(n)
	c.p.mu.Unlock()
	return n, err
}

// quirkProfile is a registry as users meet it: its quirks, and the flags
// a user pushing to it passes (the proxy's host gets the registry's
// profile with --registry-profile, as a mirror of it would).
type quirkProfile struct {
	name  string
	q     quirks
	flags func(host string) []string
	// fails: the push must fail (the lying registry).
	fails bool
}

func quirkProfiles() []quirkProfile {
	profile := func(key string) func(string) []string {
		return func(h string) []string { return []string{"--registry-profile", h + "=" + key} }
	}
	return []quirkProfile{
		// A connection reset at a byte offset of each blob, nothing else.
		{name: "reset"},
		{name: "ghcr", q: quirks{patchLimit: 4 << 20, noReferrers: true}, flags: profile("ghcr")},
		// The same registry with a user who asked for 8 MiB chunks: GHCR's
		// 416 names its limit, and the upload goes on in 4 MiB chunks.
		{name: "ghcr-chunked", q: quirks{patchLimit: 4 << 20, noReferrers: true},
			flags: func(h string) []string {
				return []string{"--registry-profile", h + "=ghcr", "--upload-mode", "chunked", "--upload-chunk-size", "8MiB"}
			}},
		{name: "ecr", q: quirks{staleRange: true, patch201: true, emptyPut500: true}, flags: profile("ecr")},
		{name: "monolithic-only", q: quirks{refusePatch: true}},
		{name: "min-chunk", q: quirks{minChunk: 6 << 20, bodyLimit: 16 << 20}},
		{name: "mount-202", q: quirks{mount202: true}},
		{name: "rate-limit", q: quirks{every429: 4}},
		{name: "token-expiry", q: quirks{tokenTTL: 500 * time.Millisecond}},
		// A timeout short enough for a test, long enough for the registry
		// to take in a 256 MiB blob on two busy cores.
		{name: "stall", q: quirks{stall: 6 * time.Second}, flags: func(string) []string { return []string{"--registry-timeout", "4s"} }},
		{name: "lying-digest", q: quirks{lieDigest: true}, fails: true},
	}
}

// quirkSource is a tree pushed through every profile.
type quirkSource struct {
	name      string
	dir       string
	streamCut int64  // where an undeclared body is cut
	digest    string // built locally
	blobBytes int64  // its layers and config
}

// generateModel writes a 1 GiB incompressible model (four 256 MiB shards,
// ChaCha8) and its small files under dir.
func generateModel(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "weights"), 0o755); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["QuirkForCausalLM"],"hidden_size":2048}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), bytes.Repeat([]byte(`{"token":"quirk"}`+"\n"), 2000), 0o644)
	for i := range 4 {
		if err := writeNoise(filepath.Join(dir, "weights", fmt.Sprintf("model-%05d-of-00004.safetensors", i+1)), 256<<20, byte(i+1)); err != nil {
			return err
		}
	}
	return nil
}

// blobBytesOfLayout adds up the blobs of the one image in an OCI layout.
func blobBytesOfLayout(t *testing.T, dir string) int64 {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("reading %s/index.json: %v", dir, err)
	}
	var m struct {
		Config struct{ Size int64 }   `json:"config"`
		Layers []struct{ Size int64 } `json:"layers"`
	}
	d := strings.TrimPrefix(idx.Manifests[0].Digest, "sha256:")
	b, err = os.ReadFile(filepath.Join(dir, "blobs", "sha256", d))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// dockerConfig writes a Docker config that logs in to host.
func dockerConfig(t *testing.T, host, user, pass string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600)
	return dir
}

// writeNoise writes size incompressible bytes (ChaCha8, seeded) to path,
// 4 MiB at a time.
func writeNoise(path string, size int64, seed byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{seed, 'q'})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		rng.Read(b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// quirkSources builds the site example and (unless short) the 1 GiB model,
// generated in the test's temporary directory, locally, for the digests
// and sizes the pushes must match.
func quirkSources(t *testing.T, withModel bool) []quirkSource {
	t.Helper()
	site, err := filepath.Abs("../examples/site")
	if err != nil {
		t.Fatal(err)
	}
	srcs := []quirkSource{{name: "site", dir: site, streamCut: 8 << 10}}
	if withModel {
		dir := filepath.Join(t.TempDir(), "model") // removed when the test ends
		if err := generateModel(dir); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, quirkSource{name: "model", dir: dir, streamCut: 128 << 20})
	}
	work := t.TempDir()
	for i := range srcs {
		out := filepath.Join(work, srcs[i].name)
		j := buildOut(t, work, nil, srcs[i].dir, "--git=false", "--no-cache", "-o", "oci:"+out, "--json")
		srcs[i].digest = j.Digest
		srcs[i].blobBytes = blobBytesOfLayout(t, out)
		os.RemoveAll(out)
	}
	return srcs
}

// TestQuirkProfiles pushes the site example and a 1 GiB model through each
// registry profile with one connection reset per blob: the pushed digest is
// the one built, crane reads the image back whole from the registry, the
// bytes sent stay within 1.1x the image, and each profile's behaviour is
// met the way it should be (a 416 turned into chunks, a note for each
// Retry-After, an expired token refreshed, a refused mount explained, a
// lying registry refused with no tag set).
func TestQuirkProfiles(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	crane := tool(t, "crane")
	srcs := quirkSources(t, !testing.Short())
	work := t.TempDir()
	for _, prof := range quirkProfiles() {
		for _, src := range srcs {
			if src.name == "model" && !modelProfile[prof.name] {
				continue
			}
			t.Run(prof.name+"/"+src.name, func(t *testing.T) {
				start := time.Now()
				p := newQuirkProxy(t, reg.Host, prof.q, src.streamCut)
				repo := prof.name + "-" + src.name
				env := []string{"DOCKER_CONFIG=" + dockerConfig(t, p.host, p.user, p.pass)}
				push := func(repo string, extra ...string) cmdResult {
					args := []string{"build", src.dir, "--git=false", "--no-cache", "-t", p.host + "/" + repo + ":v1", "--push", "--json"}
					if prof.flags != nil {
						args = append(args, prof.flags(p.host)...)
					}
					return runEnv(t, work, env, "", bin, append(args, extra...)...)
				}
				var r cmdResult
				if prof.q.mount202 {
					// A first push to mount from; then the one measured.
					if r = push(repo + "-staging"); r.code != 0 {
						t.Fatalf("staging push: exit %d: %s", r.code, r.stderr)
					}
					p.mu.Lock()
					p.received = 0
					p.mu.Unlock()
					r = push(repo, "--mount-from", p.host+"/"+repo+"-staging")
				} else {
					r = push(repo)
				}
				sent := p.bytesSent()
				if prof.fails {
					lie := "sha256:" + strings.Repeat("1", 64)
					if r.code != 1 || !strings.Contains(r.stderr, "different digest") || !strings.Contains(r.stderr, lie) || !strings.Contains(r.stderr, p.host) {
						t.Errorf("exit %d: %s; want the lie named", r.code, r.stderr)
					}
					if p.count("manifest PUT") != 0 || tagExists(t, reg.Host+"/"+repo+":v1") {
						t.Errorf("%d manifest PUTs after a lying blob PUT", p.count("manifest PUT"))
					}
					return
				}
				if r.code != 0 {
					t.Fatalf("push: exit %d: %s", r.code, r.stderr)
				}
				var j buildJSON
				if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
					t.Fatalf("%v: %s", err, r.stdout)
				}
				if j.Digest != src.digest {
					t.Errorf("pushed %s, built %s", j.Digest, src.digest)
				}
				ref := reg.Host + "/" + repo + ":v1"
				if got := strings.TrimSpace(run(t, work, crane, "digest", "--insecure", ref)); got != src.digest {
					t.Errorf("crane digest %s = %s, want %s", ref, got, src.digest)
				}
				craneReadsBack(t, crane, ref)
				ratio := float64(sent) / float64(src.blobBytes)
				t.Logf("%s: sent %d bytes for %d of blobs (%.3fx) in %v; resets %d, stalls %d, 416 %d, 413 %d, 429 %d, 401 %d, 405 %d, 500 %d",
					prof.name, sent, src.blobBytes, ratio, time.Since(start).Round(time.Millisecond), p.count("reset"), p.count("stall"),
					p.count("416"), p.count("413"), p.count("429"), p.count("401"), p.count("405"), p.count("500"))
				if ratio > 1.1 {
					t.Errorf("sent %.3fx the image's bytes, want at most 1.1x", ratio)
				}
				if p.count("reset")+p.count("stall") == 0 {
					t.Error("no connection was cut: the test tested nothing")
				}
				checkProfile(t, prof, src.name, p, r.stderr)
			})
		}
	}
}

// modelProfile lists the profiles that also push the 1 GiB model: those
// where the size of a blob changes what happens (PATCHes and chunks, which
// the site's few-KiB blobs never need; a stall in a long body). Each model
// push costs 15-25 s on two cores, the site's 3-5 s. The others behave the
// same on the site (a reset, a 429, a refused mount, an expired token, a
// lying digest happen per request, whatever its size), and every model
// push has its resets too.
var modelProfile = map[string]bool{
	"ghcr": true, "ghcr-chunked": true, "ecr": true, "monolithic-only": true, "min-chunk": true, "stall": true,
}

// checkProfile checks that a profile's behaviour happened and was met. The
// site's blobs are too small for chunks and PATCHes (a few KiB, each in one
// PUT): what depends on size is checked with the model.
func checkProfile(t *testing.T, prof quirkProfile, src string, p *quirkProxy, stderr string) {
	t.Helper()
	if src == "site" && (prof.name == "ghcr-chunked" || prof.name == "monolithic-only" || prof.name == "min-chunk") {
		return
	}
	switch prof.name {
	case "ghcr":
		if n := p.count("416"); n != 0 {
			t.Errorf("%d PATCHes over GHCR's 4 MiB were sent", n)
		}
	case "ghcr-chunked":
		// Each blob already under way when the first 416 came is refused
		// once (DefaultJobs upload at once); the ones after start in 4 MiB
		// chunks.
		if n := p.count("416"); n < 1 || n > publish.DefaultJobs || strings.Count(stderr, "as too large; uploading in chunks of 4 MiB from here on") != 1 {
			t.Errorf("%d refusals (want 1 to %d, and one note); stderr: %s", n, publish.DefaultJobs, stderr)
		}
	case "ecr":
		if n := p.count("500"); n != 0 {
			t.Errorf("%d empty final PUTs after chunks", n)
		}
	case "monolithic-only":
		if n := p.count("405"); n > publish.DefaultJobs || strings.Count(stderr, "does not take PATCH uploads; sending each blob in one PUT") != 1 {
			t.Errorf("%d PATCHes refused (want at most the %d under way at once, then none), and one note; stderr: %s", n, publish.DefaultJobs, stderr)
		}
	case "min-chunk":
		if p.count("413") != 0 && !strings.Contains(stderr, "uploading in chunks of 6 MiB from here on") {
			t.Errorf("refused for size without chunks of the announced 6 MiB; stderr: %s", stderr)
		}
	case "mount-202":
		if p.count("mount") == 0 || strings.Count(stderr, "did not mount blobs from") != 1 {
			t.Errorf("%d mounts asked; stderr: %s", p.count("mount"), stderr)
		}
	case "rate-limit":
		waits := strings.Count(stderr, "answered 429 Too Many Requests with Retry-After: waiting 1s before trying again")
		if p.count("429") == 0 || waits != p.count("429") {
			t.Errorf("%d 429s answered, %d waits told on stderr: want one note per wait; stderr: %s", p.count("429"), waits, stderr)
		}
	case "token-expiry":
		if p.count("401") < 2 || p.count("token") < 2 {
			t.Errorf("%d 401s, %d tokens: no token expired mid-push, the test tested nothing", p.count("401"), p.count("token"))
		}
	case "stall":
		if p.count("stall") == 0 {
			t.Error("no request stalled")
		}
	}
}

// craneReadsBack has crane read every blob of the image at ref from the
// registry: crane checks each blob's digest as it reads it (and crane
// validate, which also checks diff IDs, reads gzip layers only).
func craneReadsBack(t *testing.T, crane, ref string) {
	t.Helper()
	var m struct {
		Config struct{ Digest string } `json:"config"`
		Layers []struct {
			Digest    string `json:"digest"`
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(run(t, "/", crane, "manifest", "--insecure", ref)), &m); err != nil {
		t.Fatal(err)
	}
	repo, _, _ := strings.Cut(ref, ":v")
	gzipOnly := true
	for _, d := range append([]string{m.Config.Digest}, func() (ds []string) {
		for _, l := range m.Layers {
			ds = append(ds, l.Digest)
			gzipOnly = gzipOnly && strings.HasSuffix(l.MediaType, "+gzip")
		}
		return ds
	}()...) {
		cmd := exec.Command(crane, "blob", "--insecure", repo+"@"+d)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("crane blob %s@%s: %v: %s", repo, d, err, stderr.String())
		}
	}
	if gzipOnly {
		run(t, "/", crane, "validate", "--insecure", "--remote", ref)
	}
}

// TestPreflightLayerLimit: pushing to GHCR (the local registry, given
// GHCR's profile) a file larger than GHCR's documented 10 GB layer limit
// fails before the first byte, naming the file, its size and the limit. The
// file is sparse: nothing reads it before the limit is checked.
func TestPreflightLayerLimit(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	p := newQuirkProxy(t, reg.Host, quirks{}, 1<<20)
	src := filepath.Join(t.TempDir(), "model")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "config.json"), []byte("{}\n"), 0o644)
	big := filepath.Join(src, "weights.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(11_000_000_000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	r := runEnv(t, t.TempDir(), nil, "", bin, "build", src, "--git=false", "--no-cache", "--compression", "none",
		"-t", p.host+"/preflight/model:v1", "--push", "--registry-profile", p.host+"=ghcr")
	if r.code != 2 || !strings.Contains(r.stderr, `packing "`+big+`": larger than the layer limits allow (11.0 GB (11000000000 bytes), over GHCR's layer limit of 10 GB (https://docs.github.com/`) ||
		!strings.Contains(r.stderr, "a file cannot span two layers") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	t.Logf("stderr: %s", r.stderr)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the refusal took %v: the file was read", d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.received != 0 || p.requests != 0 {
		t.Errorf("%d blob requests, %d bytes sent before the limit was checked", p.requests, p.received)
	}
}

// TestQuirkManifestTooLarge: the real registry (distribution 2.8) refuses a
// manifest over 4 MiB with 400 MANIFEST_INVALID "http: request body too
// large"; the push says the manifest is too large, with its size and the
// 4 MiB that registries must take, and no tag is set.
func TestQuirkManifestTooLarge(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	cfg := filepath.Join(work, "assetpack.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("source: site\nannotations: {notes: %q}\n", strings.Repeat("n", 5<<20))), 0o644)
	r := runEnv(t, work, nil, "", bin, "build", "--config", cfg, "--git=false", "-t", reg.Host+"/big/site:v1", "--push")
	if r.code != 1 || !strings.Contains(r.stderr, "refused the manifest of "+reg.Host+"/big/site:v1") || !strings.Contains(r.stderr, "as too large") ||
		!strings.Contains(r.stderr, "request body too large") || !strings.Contains(r.stderr, "registries need only take 4 MiB") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	t.Logf("stderr: %s", r.stderr)
	if tagExists(t, reg.Host+"/big/site:v1") {
		t.Error("the tag exists")
	}
}
