package publish

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// connWrites is a net.Conn that records the size of every write and
// whether its own ReadFrom was used.
type connWrites struct {
	net.Conn
	sizes    []int
	buf      bytes.Buffer
	readFrom int
}

func (c *connWrites) Write(p []byte) (int, error) {
	c.sizes = append(c.sizes, len(p))
	return c.buf.Write(p)
}

func (c *connWrites) ReadFrom(r io.Reader) (int64, error) {
	c.readFrom++
	return c.buf.ReadFrom(r)
}

// TestBigWriteConn: what net/http copies onto a plain connection (a body of
// known length, behind its LimitReader) goes out in 1 MiB writes, bytes
// whole; a file is left to the connection's own ReadFrom (sendfile).
func TestBigWriteConn(t *testing.T) {
	data := make([]byte, 3<<20+5)
	for i := range data {
		data[i] = byte(i * 7)
	}
	rec := &connWrites{}
	n, err := bigWriteConn{rec}.ReadFrom(io.LimitReader(bytes.NewReader(data), int64(len(data))))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, len(data))
	}
	if want := []int{1 << 20, 1 << 20, 1 << 20, 5}; !slices.Equal(rec.sizes, want) {
		t.Errorf("writes of %v bytes; want %v", rec.sizes, want)
	}
	if !bytes.Equal(rec.buf.Bytes(), data) || rec.readFrom != 0 {
		t.Errorf("the connection got different bytes, or its ReadFrom was used (%d)", rec.readFrom)
	}

	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec = &connWrites{}
	if _, err := (bigWriteConn{rec}).ReadFrom(io.LimitReader(f, int64(len(data)))); err != nil {
		t.Fatal(err)
	}
	if rec.readFrom != 1 || !bytes.Equal(rec.buf.Bytes(), data) {
		t.Errorf("a file went through the 1 MiB copy (connection's ReadFrom used %d times) or arrived different", rec.readFrom)
	}
}

// TestPlainHTTPToTLSRegistry: a plain-HTTP request to a loopback registry
// that speaks TLS with an untrusted certificate fails with the certificate
// error (ErrInsecure, naming the host), not with the server's 400, even
// when no HTTPS request has failed before it (ggcr pings both schemes at
// once, and the plain answer may come first). A 400 of another kind passes
// through with its body intact.
func TestPlainHTTPToTLSRegistry(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	r, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rt := r.transport()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("plain HTTP to a TLS registry answered %s, want the certificate error", resp.Status)
	}
	var he *HostError
	if !errors.Is(err, ErrInsecure) || !errors.As(err, &he) || he.Host != host || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error = %v, want ErrInsecure naming %s and the certificate", err, host)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errors":[{"code":"UNSUPPORTED"}]}`, http.StatusBadRequest)
	}))
	defer plain.Close()
	req, _ = http.NewRequest(http.MethodGet, plain.URL+"/v2/", nil)
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "UNSUPPORTED") {
		t.Fatalf("a plain 400 became %s %q", resp.Status, body)
	}
}

// sniffListener hands the plain-HTTP connections of a loopback port to an
// http.Server and every TLS one (its first byte a handshake record) to
// onTLS: one port that speaks plain HTTP and sees HTTPS attempts.
type sniffListener struct {
	net.Listener
	plain chan net.Conn
	onTLS func(net.Conn)
}

func (l *sniffListener) serve() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			close(l.plain)
			return
		}
		go func() {
			br := bufio.NewReader(c)
			first, err := br.Peek(1)
			if err != nil {
				c.Close()
				return
			}
			if first[0] == 0x16 {
				l.onTLS(c)
				return
			}
			l.plain <- &peekedConn{c, br}
		}()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, ok := <-l.plain
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestPlainPingBesideHTTPS: the ping of a registry that may be reached
// over plain HTTP goes out over HTTPS and plain HTTP at once (ggcr would
// wait for HTTPS to fail first), and ggcr's plain-HTTP ping takes the
// answer already on its way instead of sending another.
func TestPlainPingBesideHTTPS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var pings atomic.Int32
	plainSeen := make(chan struct{})
	var seenOnce sync.Once
	sl := &sniffListener{Listener: ln, plain: make(chan net.Conn), onTLS: func(c net.Conn) {
		defer c.Close()
		// The HTTPS attempt fails only once the plain ping has arrived:
		// sent one after the other, the plain ping would never come.
		select {
		case <-plainSeen:
		case <-time.After(10 * time.Second):
			t.Error("no plain-HTTP ping arrived while the HTTPS one was waiting for its answer")
		}
	}}
	go sl.serve()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			pings.Add(1)
			seenOnce.Do(func() { close(plainSeen) })
		}
		w.Write([]byte("{}"))
	})}
	go srv.Serve(sl)
	defer srv.Close()
	host := ln.Addr().String()

	var notes []string
	r, err := NewRegistry(WithNotes(func(s string) { notes = append(notes, s) }))
	if err != nil {
		t.Fatal(err)
	}
	rt := r.transport()
	req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/v2/", nil)
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatalf("HTTPS to a plain-HTTP port answered %s", resp.Status)
	}
	if len(notes) != 0 {
		t.Errorf("noted %q before plain HTTP was used", notes)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "{}" {
		t.Fatalf("plain ping: %s %q", resp.Status, body)
	}
	if n := pings.Load(); n != 1 {
		t.Errorf("the registry saw %d plain pings, want 1 (the one sent beside HTTPS, taken)", n)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], host) {
		t.Errorf("notes = %q, want one naming %s", notes, host)
	}

	// Through ggcr's own ping, as every session opens.
	ch, err := transport.Ping(context.Background(), mustRegistry(t, host), rt)
	if err != nil || !ch.Insecure {
		t.Fatalf("ggcr's ping = %+v, %v; want plain HTTP", ch, err)
	}
	if n := pings.Load(); n != 2 {
		t.Errorf("after ggcr's ping the registry saw %d plain pings, want 2", n)
	}
}

// TestPlainPingDroppedWhenHTTPSAnswers: a registry that speaks TLS keeps
// being used over HTTPS; the plain ping sent beside it is dropped and no
// plain-HTTP note is printed.
func TestPlainPingDroppedWhenHTTPSAnswers(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	var notes []string
	pt := &policyTransport{
		secure: srv.Client().Transport, insecure: srv.Client().Transport,
		allowHTTP: func(string) bool { return true }, skipVerify: func(string) bool { return false },
		notes: func(s string) { notes = append(notes, s) }, noted: &sync.Map{}, tlsFailed: &sync.Map{},
		plain: &plainPings{},
	}
	ch, err := transport.Ping(context.Background(), mustRegistry(t, host), pt)
	if err != nil || ch.Insecure {
		t.Fatalf("ping = %+v, %v; want HTTPS", ch, err)
	}
	if len(notes) != 0 {
		t.Errorf("notes = %q, want none: HTTPS was used", notes)
	}
	pt.plain.mu.Lock()
	defer pt.plain.mu.Unlock()
	if q := pt.plain.waiting[host]; len(q) != 0 {
		t.Errorf("%d plain pings still waiting after HTTPS answered", len(q))
	}
}

// TestPlainPingCancelled: a plain ping taken under a context that ends
// returns the context's error and cancels the request.
func TestPlainPingCancelled(t *testing.T) {
	started, gone := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	p := &plainPings{}
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(srv.URL, "http:", "https:", 1)+"/v2/", nil)
	p.start(http.DefaultTransport, req)
	req.URL.Scheme = "http"
	pp := p.take(req)
	if pp == nil {
		t.Fatal("the plain ping is not waiting")
	}
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pp.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait = %v, want context.Canceled", err)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the registry never saw the plain ping cancelled")
	}
}

// mustRegistry is host as ggcr names a registry it may reach over plain
// HTTP.
func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	reg, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
