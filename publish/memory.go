package publish

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/logs"

	"github.com/assetpack/assetpack/internal/atomicfile"
)

// WithPingMemory makes pushes remember, in dir, how each registry answered
// the ping that opens a session (GET /v2/: whether it speaks TLS, and its
// authentication challenge, such as Bearer realm="https://ghcr.io/token"),
// and open later sessions from that answer instead of asking again. Only
// what the registry says to anyone is kept: never a credential or a token.
//
// A session opened from memory saves one round trip, and lets its first
// request leave at once (see Uploader: the tag is read while the build
// walks its files). When the registry now answers otherwise (a 401 where
// none was expected, a token server that fails, TLS where there was none),
// its answer is forgotten, the registry is pinged, and the request is sent
// again. An answer is kept for pingMemoryAge, and a Bearer challenge only
// when its token server is on the registry's own host: what is read from
// dir never sends a credential anywhere a ping of the registry would not.
// Saving is best effort: a dir that cannot be written costs the ping, not
// the push.
func WithPingMemory(dir string) RegistryOption {
	return func(r *Registry) error {
		if strings.TrimSpace(dir) == "" {
			return optionError("ping memory", dir, "the directory must not be empty")
		}
		r.memory = &pingMemory{dir: dir, now: time.Now}
		return nil
	}
}

// pingMemoryAge is how long a remembered answer is used. A registry
// changes its answer rarely (a move to TLS, another token server), and a
// changed answer is noticed at the first request anyway; the age bounds how
// long an answer nobody contradicts is trusted.
const pingMemoryAge = 7 * 24 * time.Hour

type pingMemory struct {
	dir string
	now func() time.Time
}

// pingAnswer is one remembered answer to GET SCHEME://HOST/v2/.
type pingAnswer struct {
	URL string `json:"url"`
	// Status is 200 (no authentication) or 401 (Challenge holds the
	// WWW-Authenticate values); 0 with NoTLS when an HTTPS ping met a
	// server that answered in plain HTTP.
	Status    int       `json:"status,omitempty"`
	Challenge []string  `json:"challenge,omitempty"`
	NoTLS     bool      `json:"noTLS,omitempty"`
	Saved     time.Time `json:"saved"`
}

func pingURL(scheme, host string) string { return scheme + "://" + host + "/v2/" }

func (m *pingMemory) path(u string) string {
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(m.dir, hex.EncodeToString(sum[:16])+".json")
}

// recall returns the answer remembered for u, if it is recent and one the
// memory may be trusted with (see trusted).
func (m *pingMemory) recall(u, host string) (pingAnswer, bool) {
	b, err := os.ReadFile(m.path(u))
	if err != nil {
		return pingAnswer{}, false
	}
	var a pingAnswer
	if json.Unmarshal(b, &a) != nil || a.URL != u {
		return pingAnswer{}, false
	}
	age := m.now().Sub(a.Saved)
	if age < -time.Minute || age > pingMemoryAge || !a.trusted(host) {
		return pingAnswer{}, false
	}
	return a, true
}

// trusted reports whether a is an answer the memory keeps: no
// authentication, plain HTTP, Basic, or Bearer with its token server on
// host itself (GHCR, GAR, Quay, ACR, Harbor; Docker Hub's auth.docker.io is
// another host, so Docker Hub is pinged every time).
func (a pingAnswer) trusted(host string) bool {
	switch {
	case a.NoTLS:
		return a.Status == 0 && len(a.Challenge) == 0 && strings.HasPrefix(a.URL, "https://")
	case a.Status == http.StatusOK:
		return len(a.Challenge) == 0
	case a.Status != http.StatusUnauthorized || len(a.Challenge) == 0:
		return false
	}
	for _, c := range a.Challenge {
		scheme, params, _ := strings.Cut(strings.TrimSpace(c), " ")
		switch strings.ToLower(scheme) {
		case "basic":
		case "bearer":
			realm, ok := challengeParam(params, "realm")
			if !ok {
				return false
			}
			ru, err := url.Parse(realm)
			if err != nil || ru.Host != host || (ru.Scheme != "https" && ru.Scheme != "http") {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// challengeParam returns the quoted value of key in the parameters of a
// WWW-Authenticate challenge (key="value", ...). ggcr parses challenges in
// an internal package; this reads only what the trust check needs, and a
// challenge it cannot read is not remembered.
func challengeParam(params, key string) (string, bool) {
	found, value := 0, ""
	for _, p := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || strings.ContainsAny(v[1:len(v)-1], `"\`) {
			return "", false
		}
		found++
		value = v[1 : len(v)-1]
	}
	return value, found == 1
}

// save keeps a for its URL; best effort, written whole.
func (m *pingMemory) save(a pingAnswer, host string) {
	if !a.trusted(host) {
		m.forgetURL(a.URL)
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		logs.Debug.Printf("ping memory: %v", err)
		return
	}
	if err := atomicfile.Write(m.path(a.URL), b, 0o600); err != nil {
		logs.Debug.Printf("ping memory: %v", err)
	}
}

func (m *pingMemory) forgetURL(u string) {
	if err := os.Remove(m.path(u)); err != nil && !errors.Is(err, os.ErrNotExist) {
		logs.Debug.Printf("ping memory: %v", err)
	}
}

// forget drops what is remembered of host, over both schemes.
func (m *pingMemory) forget(host string) {
	m.forgetURL(pingURL("https", host))
	m.forgetURL(pingURL("http", host))
}

// errNoTLS answers an HTTPS ping from memory when the registry answered
// the last one in plain HTTP: ggcr then pings over plain HTTP (if the host
// may use it), as it does after a real failure.
type errNoTLS struct{ host string }

func (e errNoTLS) Error() string {
	return fmt.Sprintf("%s answered in plain HTTP, not TLS, when it was last asked", e.host)
}

// memoTransport is below ggcr's ping (the transport transport.NewWithContext
// is given): it answers pings from memory when recall is set and an answer
// is remembered, and remembers the answers of the pings it sends. Every
// other request passes through.
type memoTransport struct {
	inner  http.RoundTripper
	m      *pingMemory
	recall bool
	// recalled is set once a ping was answered from memory: the session
	// opened with it is checked by its first requests (recheckTransport).
	recalled atomic.Bool
}

func (t *memoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return t.inner.RoundTrip(req)
	}
	host, u := req.URL.Host, pingURL(req.URL.Scheme, req.URL.Host)
	if t.recall {
		if a, ok := t.m.recall(u, host); ok {
			t.recalled.Store(true)
			logs.Debug.Printf("--- GET %s answered from memory (%s ago)", u, t.m.now().Sub(a.Saved).Round(time.Second))
			if a.NoTLS {
				return nil, errNoTLS{host}
			}
			h := http.Header{}
			for _, c := range a.Challenge {
				h.Add("WWW-Authenticate", c)
			}
			return &http.Response{Status: fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status)), StatusCode: a.Status,
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: http.NoBody, Request: req}, nil
		}
	}
	resp, err := t.inner.RoundTrip(req)
	var rh tls.RecordHeaderError
	switch {
	case err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized):
		a := pingAnswer{URL: u, Status: resp.StatusCode, Saved: t.m.now()}
		if resp.StatusCode == http.StatusUnauthorized {
			a.Challenge = resp.Header.Values("WWW-Authenticate")
		}
		t.m.save(a, host)
	case err != nil && req.URL.Scheme == "https" && errors.As(err, &rh):
		t.m.save(pingAnswer{URL: u, NoTLS: true, Saved: t.m.now()}, host)
	}
	return resp, err
}

// recheckTransport carries the requests of a session opened from a
// remembered ping until one of them is answered in a way that confirms it
// (anything but staleAnswer's): a stale answer or a failure before that
// means the registry's answer may have changed, so it is forgotten, the session is opened again with a real
// ping (reopen), and the request is sent again over the new session when
// its body can be replayed. Once the session is confirmed, or reopened,
// requests only pass through.
type recheckTransport struct {
	reopen func() (http.RoundTripper, error)

	mu      sync.Mutex
	cur     http.RoundTripper
	settled bool
}

func (t *recheckTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	cur, settled := t.cur, t.settled
	t.mu.Unlock()
	resp, err := cur.RoundTrip(req)
	if settled || req.Context().Err() != nil {
		return resp, err
	}
	if err == nil && !staleAnswer(req, resp) {
		t.mu.Lock()
		t.settled = true
		t.mu.Unlock()
		return resp, nil
	}
	fresh, ferr := t.renew(cur)
	if ferr != nil || !replayable(req) {
		return resp, err
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		body, berr := req.GetBody()
		if berr != nil {
			return resp, err
		}
		again.Body = body
	}
	again.Header.Del("Authorization") // the new session sets its own
	if resp != nil {
		drain(resp)
	}
	return fresh.RoundTrip(again)
}

// staleAnswer reports whether resp says the remembered ping no longer
// holds: a 401, or a 400 to plain HTTP, which is how a server that now
// speaks TLS answers it (docker-registry: "Client sent an HTTP request to
// an HTTPS server", with no body to a HEAD). A registry that really
// refuses the request answers the same after the new ping.
func staleAnswer(req *http.Request, resp *http.Response) bool {
	return resp.StatusCode == http.StatusUnauthorized || (req.URL.Scheme == "http" && resp.StatusCode == http.StatusBadRequest)
}

// renew reopens the session once, whichever request finds it stale first;
// the others use what it opened.
func (t *recheckTransport) renew(stale http.RoundTripper) (http.RoundTripper, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != stale {
		return t.cur, nil
	}
	fresh, err := t.reopen()
	if err != nil {
		return nil, err
	}
	t.cur, t.settled = fresh, true
	return fresh, nil
}

// replayable reports whether req can be sent again: no body, or one that
// GetBody makes anew.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}
