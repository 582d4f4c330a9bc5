package publish

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// engine makes every request of a push: blob uploads (blob.go), manifests
// (manifest.go) and the HEADs that decide what to send. It talks to each
// repository over one authenticated session, retries with the one policy
// of retry.go, and counts what it sends in stats.
type engine struct {
	r     *Registry
	ctx   context.Context // the push's: sessions are opened under it
	stats *pushStats

	mu       sync.Mutex
	sessions map[string]*session // by repository
	noted    map[string]bool     // mount refusals already noted, by registry and source
	adapted  map[string]*adapted // what each registry said that changes the rest of the push (adapt.go)
}

func newEngine(ctx context.Context, r *Registry, stats *pushStats) *engine {
	return &engine{r: r, ctx: ctx, stats: stats, sessions: map[string]*session{}, noted: map[string]bool{}, adapted: map[string]*adapted{}}
}

// session is an authenticated connection to one repository: the registry
// is pinged, and a bearer token fetched, once, instead of once per request
// or per ggcr call (three round trips more after the build of an unchanged
// re-push, when ggcr's remote made them). The token covers push on the
// repository and pull on the repositories blobs may be mounted from.
type session struct {
	repo name.Repository
	pull []name.Repository
	read bool // pull access only: the session reads (referrers, copy sources)

	once   sync.Once
	client *http.Client
	err    error
	// recalled: the session opened from a remembered ping (WithPingMemory),
	// so this build cache has pushed to the registry before.
	recalled bool
}

// session returns the session for repo, made on first use; pull names the
// repositories of the same registry that blobs may be mounted from.
func (e *engine) session(repo name.Repository, pull ...name.Repository) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := repo.String()
	if s := e.sessions[key]; s != nil {
		return s
	}
	s := &session{repo: repo}
	for _, p := range pull {
		if p.RegistryStr() == repo.RegistryStr() && p.String() != repo.String() {
			s.pull = append(s.pull, p)
		}
	}
	e.sessions[key] = s
	return s
}

// readSession returns a session that only reads repo (pull scope): a
// credential that may pull but not push still lists referrers and copies
// from there.
func (e *engine) readSession(repo name.Repository) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := "read " + repo.String()
	if s := e.sessions[key]; s != nil {
		return s
	}
	s := &session{repo: repo, read: true}
	e.sessions[key] = s
	return s
}

// open returns the session's client, authenticating on first use (the
// ping and the token request are retried like any request). The session
// lives as long as the push, whichever request needs it first: it is
// opened under the push's context, not the caller's.
func (e *engine) open(s *session) (*http.Client, error) {
	s.once.Do(func() {
		var rt http.RoundTripper
		rt, s.err = e.connect(s, e.r.memory != nil)
		if s.err == nil {
			s.client = &http.Client{Transport: rt}
		}
	})
	return s.client, s.err
}

// connect pings the registry and authenticates for the session's scopes,
// retrying like any request. With recall, the ping may be answered from
// the registry's remembered answer (WithPingMemory): the transport
// returned then checks that answer with the first requests, and a session
// that cannot open with it opens again with a real ping.
func (e *engine) connect(s *session, recall bool) (http.RoundTripper, error) {
	ctx := e.ctx
	auth, err := authn.Resolve(ctx, e.r.keychain, s.repo)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = e.r.transport()
	if logs.Enabled(logs.Debug) {
		rt = debugTransport{rt}
	}
	rt = replayGuard{rt}
	var memo *memoTransport
	if e.r.memory != nil {
		memo = &memoTransport{inner: rt, m: e.r.memory, recall: recall}
		rt = memo
	}
	rt = transport.NewUserAgent(rt, "assetpack")
	scopes := []string{s.repo.Scope(transport.PushScope)}
	if s.read {
		scopes = []string{s.repo.Scope(transport.PullScope)}
	}
	for _, p := range s.pull {
		scopes = append(scopes, p.Scope(transport.PullScope))
	}
	retry := e.retrier(s.repo.RegistryStr())
	for {
		authed, err := transport.NewWithContext(ctx, s.repo.Registry, auth, rt, scopes)
		if err == nil {
			if memo == nil || !memo.recalled.Load() {
				return authed, nil
			}
			s.recalled = true
			return &recheckTransport{cur: authed, reopen: func() (http.RoundTripper, error) {
				logs.Debug.Printf("--- %s does not answer as remembered: pinging it", s.repo.RegistryStr())
				e.r.memory.forget(s.repo.RegistryStr())
				return e.connect(s, false)
			}}, nil
		}
		if memo != nil && memo.recalled.Load() && ctx.Err() == nil {
			// The remembered answer led nowhere (its token server failed,
			// say): forget it and ask the registry.
			e.r.memory.forget(s.repo.RegistryStr())
			return e.connect(s, false)
		}
		if !retry.again(ctx, err) {
			return nil, err
		}
	}
}

// repoURL is the address of path under repo's /v2/REPO.
func repoURL(repo name.Repository, path string) string {
	return (&url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + path}).String()
}

// send makes one request and returns the response when its status is one
// of ok (the caller closes its body); any other status is a *statusError,
// its body read and closed.
func (e *engine) send(c *http.Client, req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if err := checkStatus(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// do makes the request that mk builds (a new one for each attempt) under
// the retry policy; see send.
func (e *engine) do(ctx context.Context, s *session, mk func() (*http.Request, error), ok ...int) (*http.Response, error) {
	c, err := e.open(s)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	retry := e.retrier(s.repo.RegistryStr())
	for {
		req, err := mk()
		if err != nil {
			return nil, err
		}
		resp, err := e.send(c, req, ok...)
		if err == nil {
			return resp, nil
		}
		if !retry.again(ctx, err) {
			return nil, err
		}
	}
}

// headBlob asks repo for the blob by digest. It counts nothing: the caller
// knows whether a blob found is a skip.
func (e *engine) headBlob(ctx context.Context, s *session, d v1.Hash) (bool, error) {
	resp, err := e.do(ctx, s, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodHead, repoURL(s.repo, "/blobs/"+d.String()), nil)
	}, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// deleteUpload abandons an upload session, if one was opened; best effort,
// once, since registries expire abandoned sessions anyway (and the spec
// tells clients to ignore a failure here).
func (e *engine) deleteUpload(s *session, location string) {
	if location == "" {
		return
	}
	c, err := e.open(s)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil)
	if err != nil {
		return
	}
	if resp, err := c.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// note tells the user once per push that a registry did not mount blobs
// from a repository (it opened an upload session instead, as the spec
// allows; see blob.go).
func (e *engine) noteMountRefused(repo, from name.Repository) {
	key := repo.RegistryStr() + " " + from.String()
	e.mu.Lock()
	first := !e.noted[key]
	e.noted[key] = true
	e.mu.Unlock()
	if first && e.r.notes != nil {
		e.r.notes(fmt.Sprintf("note: %s did not mount blobs from %s; uploading them", repo.RegistryStr(), from.RepositoryStr()))
	}
}

// debugTransport logs each request's method, URL and status with --debug
// (ggcr's debug log), never headers or bodies, and no query value but the
// digest and mount parameters: an upload URL may carry the registry's
// signed state, a redirect a storage signature.
type debugTransport struct{ inner http.RoundTripper }

func (t debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := logURL(req.URL)
	logs.Debug.Printf("--> %s %s [headers and body not logged]", req.Method, u)
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		logs.Debug.Printf("<-- %v %s %s (%s)", err, req.Method, u, time.Since(start))
		return nil, err
	}
	logs.Debug.Printf("<-- %d %s %s (%s)", resp.StatusCode, req.Method, u, time.Since(start))
	return resp, nil
}

// logURL is u for a log: no user information, and only the values of the
// query parameters that name blobs and repositories.
func logURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := u.Query()
	if len(q) == 0 {
		return c.String()
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch k {
		case "digest", "mount", "from":
			parts = append(parts, k+"="+q.Get(k))
		default:
			parts = append(parts, k+"=…")
		}
	}
	c.RawQuery = ""
	return c.String() + "?" + strings.Join(parts, "&")
}
