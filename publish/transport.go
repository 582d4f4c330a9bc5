package publish

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts of the base transport: an unreachable or stalled registry fails
// within a bounded time instead of hanging a CI job.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	DefaultTimeout      = 60 * time.Second // waiting for a response's headers
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

// policyTransport enforces the plain-HTTP policy and names an untrusted
// TLS certificate as such. It sends each request once: retries are the
// engine's (see retry.go), above the authenticating transport.
type policyTransport struct {
	secure, insecure http.RoundTripper
	// allowHTTP reports whether plain HTTP is allowed for a host[:port]
	// (loopback or --insecure-registry); skipVerify whether TLS
	// certificates go unchecked (--insecure-registry only).
	allowHTTP, skipVerify func(host string) bool
	// notes receives a one-time note per host that really uses plain HTTP.
	notes func(string)
	noted *sync.Map
	// tlsFailed remembers hosts whose TLS certificate failed verification:
	// ggcr then falls back to plain HTTP, which must not hide that error.
	tlsFailed *sync.Map
	// plain holds the plain-HTTP pings sent beside HTTPS ones (see
	// plainPings); nil sends none.
	plain *plainPings
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

// errPlainHTTP is returned for plain-HTTP requests to hosts not allowed (see
// plainHTTPError); it matches ErrInsecure.
var errPlainHTTP error = &insecureCause{"plain HTTP is not allowed"}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	var twin *plainPing // the plain ping sent beside this HTTPS one
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
	} else if t.plain != nil && isPing(req) && t.allowHTTP(host) {
		twin = t.plain.start(t.secure, req)
	}
	rt := t.secure
	if t.skipVerify(host) {
		rt = t.insecure
	}
	var resp *http.Response
	var err error
	if pp := t.plain.take(req); pp != nil {
		resp, err = pp.wait(req.Context())
	} else {
		resp, err = rt.RoundTrip(req)
	}
	if twin != nil && (err == nil || isCertError(err)) {
		// HTTPS answered (or failed on its certificate, which plain HTTP
		// must not hide): ggcr will not ask for the plain ping.
		t.plain.drop(twin)
	}
	if err != nil {
		if req.URL.Scheme == "https" && isCertError(err) {
			err = untrustedError(host, err)
			t.tlsFailed.Store(host, err)
		}
		return nil, err
	}
	if req.URL.Scheme == "http" && resp.StatusCode == http.StatusBadRequest {
		if err := t.speaksTLS(req, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// isPing reports whether req is ggcr's ping: an anonymous GET /v2/.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.Header.Get("Authorization") == ""
}

// plainPings sends the plain-HTTP ping to a registry that may be reached
// over plain HTTP (loopback or --insecure-registry) at the same time as
// the HTTPS one, and hands its answer to ggcr when ggcr falls back to it.
// ggcr pings such a registry over HTTPS and starts the plain-HTTP ping
// only when HTTPS has failed or 300 ms have passed (transport.Ping, after
// Go's happy eyeballs), so a plain-HTTP registry cost two connections one
// after the other: 167 ms of the 0.24 s of an unchanged re-push over a
// link with 20 ms of latency each way. HTTPS is still preferred: the plain
// answer is used only when ggcr asks for it, after HTTPS failed, and is
// dropped when HTTPS answers. Nothing is sent over plain HTTP that ggcr
// would not send itself: the ping is anonymous.
type plainPings struct {
	mu sync.Mutex
	// waiting holds, by host, the pings not yet taken or dropped, oldest
	// first.
	waiting map[string][]*plainPing
}

type plainPing struct {
	host   string
	cancel context.CancelFunc
	done   chan struct{}
	resp   *http.Response
	err    error
}

// unclaimed is how long a finished plain ping waits to be taken before it
// is closed: ggcr asks for it as soon as HTTPS fails, so this only bounds
// what a caller that pings without falling back leaves behind.
const unclaimed = 30 * time.Second

// start sends the plain-HTTP twin of the HTTPS ping req through rt. It
// is not cancelled with req (ggcr cancels the HTTPS attempt when it ends),
// only by drop or by the context of the request that takes it.
func (p *plainPings) start(rt http.RoundTripper, req *http.Request) *plainPing {
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	preq := req.Clone(ctx)
	preq.URL.Scheme = "http"
	pp := &plainPing{host: req.URL.Host, cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	if p.waiting == nil {
		p.waiting = map[string][]*plainPing{}
	}
	p.waiting[pp.host] = append(p.waiting[pp.host], pp)
	p.mu.Unlock()
	go func() {
		pp.resp, pp.err = rt.RoundTrip(preq)
		close(pp.done)
		time.AfterFunc(unclaimed, func() {
			if p.remove(pp) {
				pp.close()
			}
		})
	}()
	return pp
}

// take returns a waiting plain ping for req, a plain-HTTP ping, or nil.
func (p *plainPings) take(req *http.Request) *plainPing {
	if p == nil || req.URL.Scheme != "http" || !isPing(req) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.waiting[req.URL.Host]
	if len(q) == 0 {
		return nil
	}
	p.waiting[req.URL.Host] = q[1:]
	return q[0]
}

// remove forgets pp, and reports whether it was still waiting.
func (p *plainPings) remove(pp *plainPing) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.waiting[pp.host]
	for i, w := range q {
		if w == pp {
			p.waiting[pp.host] = append(q[:i:i], q[i+1:]...)
			return true
		}
	}
	return false
}

// drop cancels pp unless it was taken: its HTTPS twin answered.
func (p *plainPings) drop(pp *plainPing) {
	if p.remove(pp) {
		pp.close()
	}
}

// close cancels pp and closes its answer once it has one.
func (pp *plainPing) close() {
	pp.cancel()
	go func() {
		<-pp.done
		if pp.resp != nil {
			drain(pp.resp)
		}
	}()
}

// wait returns pp's answer, or ctx's error when ctx ends first.
func (pp *plainPing) wait(ctx context.Context) (*http.Response, error) {
	select {
	case <-pp.done:
		return pp.resp, pp.err
	case <-ctx.Done():
		pp.close()
		return nil, ctx.Err()
	}
}

// speaksTLS looks at a 400 answer to plain HTTP: when it is Go's (and so
// distribution's) "Client sent an HTTP request to an HTTPS server", the
// registry speaks TLS, and the error to report is what HTTPS says. ggcr
// pings a loopback registry over HTTPS and HTTP at once, so the plain
// answer can arrive before the HTTPS one has failed on an untrusted
// certificate (seen on a loaded machine). resp's body is kept readable.
func (t *policyTransport) speaksTLS(req *http.Request, resp *http.Response) error {
	const marker = "HTTP request to an HTTPS server"
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if !bytes.Contains(head, []byte(marker)) {
		return nil
	}
	probe, err := http.NewRequestWithContext(req.Context(), http.MethodGet, "https://"+req.URL.Host+"/v2/", nil)
	if err != nil {
		return nil
	}
	rt := t.secure
	if t.skipVerify(req.URL.Host) {
		rt = t.insecure
	}
	presp, err := rt.RoundTrip(probe)
	if err != nil {
		if isCertError(err) {
			err = untrustedError(req.URL.Host, err)
			t.tlsFailed.Store(req.URL.Host, err)
			resp.Body.Close()
			return err
		}
		return nil
	}
	drain(presp)
	return nil
}

// countingBody is the body of every request the engine sends with one: it
// counts the bytes read from r (add, if set, hears of each read), is sent at
// most once (see replayGuard), and once closed reads nothing more from r, so
// that a request that failed early (the registry answered before reading all
// of it) cannot keep reading a source the engine reads again to resume.
type countingBody struct {
	r   io.Reader
	add func(n int64)

	mu     sync.Mutex
	n      int64
	closed bool
	sent   atomic.Bool
}

// errBodyClosed: a request kept reading its body after it ended.
var errBodyClosed = errors.New("request body read after the request ended")

func (c *countingBody) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errBodyClosed
	}
	n, err := c.r.Read(p)
	c.count(n)
	return n, err
}

func (c *countingBody) count(n int) {
	if n > 0 {
		c.n += int64(n)
		if c.add != nil {
			c.add(int64(n))
		}
	}
}

// Close ends the body; the source it reads from is its owner's to close.
func (c *countingBody) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// bytesRead is how many bytes the request took from the body.
func (c *countingBody) bytesRead() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// claim marks the body as sent, and reports whether it was not before.
func (c *countingBody) claim() bool { return c.sent.CompareAndSwap(false, true) }

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
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return sent, errBodyClosed
		}
		n, rerr := io.ReadFull(c.r, *bufp)
		c.count(n)
		c.mu.Unlock()
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
