package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer answers every connection with what it reads, until EOF.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends payload through addr and returns what came back.
func roundTrip(t *testing.T, addr string, payload []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLinkCarriesAndCountsBytes(t *testing.T) {
	l, err := startLink(echoServer(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	payload := make([]byte, 3<<20+17)
	rand.Read(payload)
	if got := roundTrip(t, l.addr(), payload); !bytes.Equal(got, payload) {
		t.Fatalf("the link changed the bytes: sent %d, got back %d", len(payload), len(got))
	}
	if s, r := l.sent.Load(), l.received.Load(); s != int64(len(payload)) || r != int64(len(payload)) {
		t.Fatalf("counted %d sent and %d received, want %d each", s, r, len(payload))
	}
}

// The shaping is checked from below only: a link can never be faster than
// its budget and its delay, however fast the machine; a slow machine only
// makes it slower, so these bounds cannot fail for load.
func TestLinkSharesOneBudgetAndDelays(t *testing.T) {
	const bitsPerSecond = 8e6 // 1 MB/s each way
	const latency = 50 * time.Millisecond
	l, err := startLink(echoServer(t), bitsPerSecond, latency)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()

	start := time.Now()
	if got := roundTrip(t, l.addr(), []byte("x")); string(got) != "x" {
		t.Fatalf("got %q back", got)
	}
	// Handshake (two delays), the byte there and back (two more).
	if d := time.Since(start); d < 4*latency {
		t.Fatalf("one byte there and back took %v, less than four one-way delays of %v", d, latency)
	}

	// Two connections at once draw from one budget: together they cannot
	// move their bytes faster than the link's rate allows for the sum.
	payload := make([]byte, 512<<10)
	rand.Read(payload)
	start = time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := roundTrip(t, l.addr(), payload); !bytes.Equal(got, payload) {
				t.Errorf("connection %d: the bytes changed", i)
			}
		}()
	}
	wg.Wait()
	burst := int64(4 * chunkSize)
	floor := time.Duration(float64(2*int64(len(payload))-burst) * 8 / bitsPerSecond * float64(time.Second))
	if d := time.Since(start); d < floor {
		t.Fatalf("two connections moved 2×%d bytes each way in %v; one shared 1 MB/s budget needs at least %v", len(payload), d, floor)
	}
}
