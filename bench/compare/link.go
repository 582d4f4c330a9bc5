package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// A profile is the network between every client and the registry.
type profile struct {
	name string
	// bitsPerSecond is the bandwidth each way; 0 means no shaping at all
	// (the local profile: clients talk to the registry directly).
	bitsPerSecond float64
	// latency is the one-way delay.
	latency time.Duration
	// perConnection limits each connection to bitsPerSecond on its own
	// (toxiproxy's bandwidth toxic) instead of one budget for all.
	perConnection bool
}

func (p profile) shaped() bool { return p.bitsPerSecond > 0 }

// describe is the profile as the table headings name it.
func (p profile) describe() string {
	if !p.shaped() {
		return "local: no shaping, the registry on the same cores"
	}
	bw := fmt.Sprintf("%g Mbit/s", p.bitsPerSecond/1e6)
	if p.bitsPerSecond >= 1e9 {
		bw = fmt.Sprintf("%g Gbit/s", p.bitsPerSecond/1e9)
	}
	share := "one budget shared by every connection (one uplink)"
	if p.perConnection {
		share = "each connection limited on its own (toxiproxy)"
	}
	return fmt.Sprintf("%s: %s each way, %s, %s latency each way", p.name, bw, share, p.latency)
}

// linkTime is how long the link needs to move n bytes one way.
func (p profile) linkTime(n int64) time.Duration {
	if !p.shaped() {
		return 0
	}
	return time.Duration(float64(n) * 8 / p.bitsPerSecond * float64(time.Second))
}

// bytesIn is how many bytes the link carries in d; the inverse of linkTime.
func (p profile) bytesIn(d time.Duration) int64 {
	return int64(d.Seconds() * p.bitsPerSecond / 8)
}

var profiles = map[string]profile{
	"local":          {name: "local"},
	"shared":         {name: "shared", bitsPerSecond: 100e6, latency: 20 * time.Millisecond},
	"per-connection": {name: "per-connection", bitsPerSecond: 100e6, latency: 20 * time.Millisecond, perConnection: true},
	"fast":           {name: "fast", bitsPerSecond: 1e9, latency: 2 * time.Millisecond},
}

// link is a TCP proxy between the clients and the registry that behaves
// like a network link: a one-way delay in each direction and, when limited,
// one bandwidth budget per direction that every connection draws from (one
// NIC, one VPN, one office uplink). It counts the bytes each way, which is
// how the tables know what each tool put on the wire.
//
// Written here rather than shaping with tc htb/netem: it needs no root,
// leaves the host's loopback (and every other process on it) alone, and the
// same code runs on a laptop. The token bucket is golang.org/x/time/rate's.
// toxiproxy, the per-connection profile, cannot do this: its bandwidth
// toxic limits each connection separately.
type link struct {
	ln       net.Listener
	upstream string
	latency  time.Duration
	// up limits client → registry, down registry → client; nil: unlimited.
	up, down *rate.Limiter
	// sent counts client → registry bytes, received registry → client.
	sent, received atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// chunkSize is the most a link reads at once; the bucket's burst must hold
// it. 16 KiB is 1.3 ms at 100 Mbit/s: fine-grained enough that connections
// sharing the budget interleave like packets on a queue.
const chunkSize = 16 << 10

// startLink listens on a free loopback port and forwards to upstream.
func startLink(upstream string, bitsPerSecond float64, latency time.Duration) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &link{ln: ln, upstream: upstream, latency: latency, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	if bitsPerSecond > 0 {
		burst := 4 * chunkSize
		l.up = rate.NewLimiter(rate.Limit(bitsPerSecond/8), burst)
		l.down = rate.NewLimiter(rate.Limit(bitsPerSecond/8), burst)
	}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

func (l *link) addr() string { return l.ln.Addr().String() }

// close stops listening and cuts every connection still open.
func (l *link) close() {
	l.cancel()
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *link) track(c net.Conn, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		l.conns[c] = struct{}{}
	} else {
		delete(l.conns, c)
	}
}

func (l *link) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handle(c)
		}()
	}
}

func (l *link) handle(c net.Conn) {
	l.track(c, true)
	defer l.track(c, false)
	defer c.Close()
	// A connection's handshake costs a round trip before its first byte.
	select {
	case <-time.After(2 * l.latency):
	case <-l.ctx.Done():
		return
	}
	u, err := net.Dial("tcp", l.upstream)
	if err != nil {
		return
	}
	l.track(u, true)
	defer l.track(u, false)
	defer u.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pipe(u, c, l.up, &l.sent) }()
	go func() { defer wg.Done(); l.pipe(c, u, l.down, &l.received) }()
	wg.Wait()
}

// pipe copies src to dst: each chunk waits for its bytes in the direction's
// bucket (the link's transmission time, shared with every other
// connection), then reaches dst latency later (propagation). The queue
// between the two holds what is in flight; when it is full the reader
// stops, and TCP's flow control slows the sender as a full link would.
func (l *link) pipe(dst, src net.Conn, lim *rate.Limiter, n *atomic.Int64) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		failed := false
		for ch := range q {
			if failed {
				continue // drain, so that the reader never blocks on a dead writer
			}
			if d := time.Until(ch.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(ch.b); err != nil {
				failed = true
				src.Close()
			}
		}
		if !failed {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite() // pass the half-close on: the peer reads EOF
			}
		}
	}()
	buf := make([]byte, chunkSize)
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if lim != nil {
				if werr := lim.WaitN(l.ctx, m); werr != nil {
					break
				}
			}
			n.Add(int64(m))
			q <- chunk{b: append([]byte(nil), buf[:m]...), at: time.Now().Add(l.latency)}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}

// toxiproxy is Shopify's toxiproxy-server, the per-connection profile's
// shaper: its bandwidth toxic limits each connection separately, as a
// network with a per-flow rate (or a remote end that limits each
// connection) does.
type toxiproxy struct {
	cmd  *exec.Cmd
	api  string
	next int
}

func startToxiproxy(dir string) (*toxiproxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	cmd := exec.Command("toxiproxy-server", "-host", host, "-port", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "toxiproxy.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting toxiproxy-server (hack/install-bench-tools.sh installs it): %w", err)
	}
	t := &toxiproxy{cmd: cmd, api: "http://" + net.JoinHostPort(host, port)}
	for i := 0; i < 100; i++ {
		resp, err := http.Get(t.api + "/version")
		if err == nil {
			resp.Body.Close()
			return t, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.stop()
	return nil, fmt.Errorf("toxiproxy-server did not answer on %s (see %s)", t.api, logf.Name())
}

func (t *toxiproxy) stop() {
	if t == nil || t.cmd.Process == nil {
		return
	}
	t.cmd.Process.Kill()
	t.cmd.Wait()
}

// call sends one request to toxiproxy's HTTP API. Its Go client
// (github.com/Shopify/toxiproxy/v2/client) would add the server's whole
// module graph to this module's go.mod for three requests.
func (t *toxiproxy) call(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, t.api+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// front makes a proxy to upstream that limits each connection to
// bitsPerSecond each way after latency each way, and returns its address
// and how to remove it.
func (t *toxiproxy) front(upstream string, bitsPerSecond float64, latency time.Duration) (string, func(), error) {
	t.next++
	name := fmt.Sprintf("registry-%d", t.next)
	var created struct {
		Listen string `json:"listen"`
	}
	if err := t.call(http.MethodPost, "/proxies", map[string]any{"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": true}, &created); err != nil {
		return "", nil, err
	}
	remove := func() { t.call(http.MethodDelete, "/proxies/"+name, nil, nil) }
	for _, stream := range []string{"upstream", "downstream"} {
		toxics := []map[string]any{
			{"name": "latency-" + stream, "type": "latency", "stream": stream, "attributes": map[string]any{"latency": latency.Milliseconds()}},
			// The bandwidth toxic's rate is in KB/s of 1000 bytes.
			{"name": "bandwidth-" + stream, "type": "bandwidth", "stream": stream, "attributes": map[string]any{"rate": int64(bitsPerSecond / 8 / 1000)}},
		}
		for _, tx := range toxics {
			if err := t.call(http.MethodPost, "/proxies/"+name+"/toxics", tx, nil); err != nil {
				remove()
				return "", nil, err
			}
		}
	}
	if created.Listen == "" {
		remove()
		return "", nil, errors.New("toxiproxy answered without the proxy's listen address")
	}
	return created.Listen, remove, nil
}
