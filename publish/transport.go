package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts of the base transport: an unreachable or stalled registry fails
// within a bounded time instead of hanging a CI job.
const (
	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	DefaultTimeout        = 60 * time.Second // waiting for a response's headers
	maxRetryAfter         = 30 * time.Second
	maxRetryAfterAttempts = 5
)

func newBaseTransport(skipVerify bool, responseTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           bigWrites((&net.Dialer{Timeout: min(dialTimeout, responseTimeout), KeepAlive: 30 * time.Second}).DialContext),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   50,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseTimeout,
		ExpectContinueTimeout: time.Second,
		// The system trust store (and SSL_CERT_FILE / SSL_CERT_DIR, which Go
		// reads on Unix) verifies registries; --insecure-registry skips it.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12},
	}
}

// bigWrites wraps each plain connection so that a request body of known
// length goes out in writes of up to 1 MiB. net/http sends such a body
// (a monolithic blob upload: POST, then a PUT with the bytes) through
// io.Copy onto the connection, and a TCP connection copies anything but a
// file through a 32 KiB buffer: 65,536 write(2) calls for the model's two
// 1 GiB shards (pushing its built layout: 0.5 s of assetpack's CPU more).
// Over TLS the wrapper is below the TLS connection and only passes writes on.
func bigWrites(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bigWriteConn{c}, nil
	}
}

type bigWriteConn struct{ net.Conn }

// ReadFrom copies r through a 1 MiB buffer, except a file, which the
// connection may send with sendfile(2).
func (c bigWriteConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok && isFile(r) {
		return rf.ReadFrom(r)
	}
	bufp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bufp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *bufp)
}

func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// policyTransport enforces the plain-HTTP policy, honours Retry-After, and
// records what happened (manifest digests the registry reported, blob bytes
// sent and skipped). ggcr wraps it with its own auth and retry layers.
type policyTransport struct {
	secure, insecure http.RoundTripper
	// allowHTTP reports whether plain HTTP is allowed for a host[:port]
	// (loopback or --insecure-registry); skipVerify whether TLS
	// certificates go unchecked (--insecure-registry only).
	allowHTTP, skipVerify func(host string) bool
	// notes receives a one-time note per host that really uses plain HTTP.
	notes func(string)
	stats *pushStats
	noted *sync.Map
	// tlsFailed remembers hosts whose TLS certificate failed verification:
	// ggcr then falls back to plain HTTP, which must not hide that error.
	tlsFailed *sync.Map
}

// errUntrustedTLS marks a registry whose certificate is not trusted (see
// untrustedError); it matches ErrInsecure.
var errUntrustedTLS error = &insecureCause{"must use TLS with a trusted certificate (or be allowed insecure access)"}

func isCertError(err error) bool {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie)
}

// pushStats counts what a push sent. Safe for concurrent use.
type pushStats struct {
	sentBytes    atomic.Int64
	skippedBlobs atomic.Int64
	skippedBytes atomic.Int64
	mu           sync.Mutex
	// uploaded holds "REPO@DIGEST" of the blobs this push uploaded:
	// finding them in that repository again later is not a skip.
	uploaded map[string]bool
	// reported maps "repo/manifests/ref" to the Docker-Content-Digest the
	// registry answered a manifest PUT with.
	reported map[string]string
}

func (s *pushStats) report(key, digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reported == nil {
		s.reported = map[string]string{}
	}
	s.reported[key] = digest
}

func (s *pushStats) markUploaded(digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploaded == nil {
		s.uploaded = map[string]bool{}
	}
	s.uploaded[digest] = true
}

func (s *pushStats) wasUploaded(digest string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploaded[digest]
}

func (s *pushStats) reportedDigest(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reported[key]
}

// errPlainHTTP is returned for plain-HTTP requests to hosts not allowed (see
// plainHTTPError); it matches ErrInsecure.
var errPlainHTTP error = &insecureCause{"plain HTTP is not allowed"}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "http" {
		if prev, ok := t.tlsFailed.Load(host); ok {
			return nil, prev.(error)
		}
		if !t.allowHTTP(host) {
			return nil, plainHTTPError(host)
		}
		if _, done := t.noted.LoadOrStore(host, true); !done && t.notes != nil {
			t.notes(fmt.Sprintf("note: using plain HTTP for %s (loopback or --insecure-registry)", host))
		}
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify the caller's request
	rt := t.secure
	if t.skipVerify(host) {
		rt = t.insecure
	}
	var counted *countingBody
	if req.Body != nil && (req.Method == http.MethodPatch || req.Method == http.MethodPut) && strings.Contains(req.URL.Path, "/blobs/uploads/") {
		counted = &countingBody{ReadCloser: req.Body}
		req.Body = counted
	}
	for attempt := 0; ; attempt++ {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			if req.URL.Scheme == "https" && isCertError(err) {
				err = untrustedError(host, err)
				t.tlsFailed.Store(host, err)
			}
			return nil, err
		}
		if counted != nil && resp.StatusCode < 300 && t.stats != nil {
			t.stats.sentBytes.Add(counted.n)
		}
		t.observe(req, resp)
		wait, ok := retryAfter(resp)
		if !ok || attempt >= maxRetryAfterAttempts || !replayable(req) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := sleepCtx(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
	}
}

func (t *policyTransport) observe(req *http.Request, resp *http.Response) {
	if t.stats == nil {
		return
	}
	p := req.URL.Path
	switch {
	case req.Method == http.MethodHead && strings.Contains(p, "/blobs/sha256:") && resp.StatusCode == http.StatusOK:
		if req.Context().Value(uncountedKey{}) != nil || t.stats.wasUploaded(blobRepo(p)+"@"+p[strings.LastIndex(p, "/")+1:]) {
			return
		}
		t.stats.skippedBlobs.Add(1)
		if resp.ContentLength > 0 {
			t.stats.skippedBytes.Add(resp.ContentLength)
		}
	case req.Method == http.MethodPost && strings.Contains(p, "/blobs/uploads/") && req.URL.Query().Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		t.stats.skippedBlobs.Add(1) // mounted from another repository
	case req.Method == http.MethodPut && strings.Contains(p, "/blobs/uploads/") && resp.StatusCode < 300:
		if d := req.URL.Query().Get("digest"); d != "" {
			t.stats.markUploaded(blobRepo(p) + "@" + d)
		}
	case req.Method == http.MethodPut && strings.Contains(p, "/manifests/") && resp.StatusCode < 300:
		if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
			t.stats.report(strings.TrimPrefix(p, "/v2/"), d)
		}
	}
}

// retryAfter reports a Retry-After wait on 429 and 503 responses.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if when, err := http.ParseTime(v); err == nil {
		d = time.Until(when)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// bodyBufs holds the pieces that countingBody.WriteTo and
// bigWriteConn.ReadFrom send.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, bodyPiece); return &b }}

const bodyPiece = 1 << 20

// WriteTo sends the body in pieces of 1 MiB (the last one shorter), whatever
// the size of the reads that fill them. io.Copy prefers this method to
// net/http's own copy, which sends a body of unknown length (an early
// upload's PATCH) in 32 KiB pieces and flushes each as one HTTP chunk:
// 32,768 chunks per GiB, each its own TCP segment that wakes the registry
// for a read. For the model's two 1 GiB shards that was 196,608 write(2)
// calls (size line, data and CRLF of each chunk, with the transport's 4 KiB
// write buffer), now about 7,800; a larger write buffer does not lower that
// further. (A body of known length is copied through net/http's
// LimitReader, which hides this method.)
func (c *countingBody) WriteTo(w io.Writer) (int64, error) {
	bufp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bufp)
	var sent int64
	for {
		n, rerr := io.ReadFull(c.ReadCloser, *bufp)
		c.n += int64(n)
		if n > 0 {
			m, werr := w.Write((*bufp)[:n])
			sent += int64(m)
			if werr != nil {
				return sent, werr
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return sent, nil
		default:
			return sent, rerr
		}
	}
}

// blobRepo is the repository of a /v2/REPO/blobs/... path.
func blobRepo(p string) string {
	p = strings.TrimPrefix(p, "/v2/")
	if i := strings.LastIndex(p, "/blobs/"); i >= 0 {
		return p[:i]
	}
	return p
}
