package publish

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
