package publish

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPingAnswerTrusted(t *testing.T) {
	const host = "ghcr.io"
	for _, c := range []struct {
		name string
		a    pingAnswer
		want bool
	}{
		{"no authentication", pingAnswer{URL: "https://ghcr.io/v2/", Status: 200}, true},
		{"bearer on the registry's host", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"`}}, true},
		{"basic", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Basic realm="ghcr"`}}, true},
		{"bearer on another host", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm="https://auth.example/token",service="ghcr.io"`}}, false},
		{"bearer on the host under another port", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm="https://ghcr.io:8443/token"`}}, false},
		{"one of two challenges elsewhere", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Basic realm="x"`, `Bearer realm="https://evil.example/token"`}}, false},
		{"two realms", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm="https://ghcr.io/token",realm="https://evil.example/token"`}}, false},
		{"unquoted realm", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm=https://ghcr.io/token`}}, false},
		{"no realm", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer service="ghcr.io"`}}, false},
		{"realm not http", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Bearer realm="file://ghcr.io/token"`}}, false},
		{"unknown scheme", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401, Challenge: []string{`Negotiate`}}, false},
		{"401 without a challenge", pingAnswer{URL: "https://ghcr.io/v2/", Status: 401}, false},
		{"another status", pingAnswer{URL: "https://ghcr.io/v2/", Status: 404}, false},
		{"no TLS", pingAnswer{URL: "https://ghcr.io/v2/", NoTLS: true}, true},
		{"no TLS over plain HTTP", pingAnswer{URL: "http://ghcr.io/v2/", NoTLS: true}, false},
		{"no TLS with a status", pingAnswer{URL: "https://ghcr.io/v2/", NoTLS: true, Status: 200}, false},
	} {
		if got := c.a.trusted(host); got != c.want {
			t.Errorf("%s: trusted = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPingMemoryRecall: an answer is used for pingMemoryAge, only for its
// own URL, and not when it claims a time to come or does not parse.
func TestPingMemoryRecall(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := &pingMemory{dir: dir, now: func() time.Time { return now }}
	u := pingURL("https", "registry.example")
	m.save(pingAnswer{URL: u, Status: 200, Saved: now}, "registry.example")
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Hour, true}, {pingMemoryAge - time.Minute, true}, {pingMemoryAge + time.Minute, false}, {-time.Hour, false}} {
		m.now = func() time.Time { return now.Add(c.at) }
		if _, ok := m.recall(u, "registry.example"); ok != c.want {
			t.Errorf("%s after it was saved: recalled %v, want %v", c.at, ok, c.want)
		}
	}
	m.now = func() time.Time { return now }
	if _, ok := m.recall(pingURL("http", "registry.example"), "registry.example"); ok {
		t.Error("the HTTPS answer was recalled for plain HTTP")
	}
	// A file under another URL's name (copied, or a collision) is not used.
	if err := os.Rename(m.path(u), m.path(pingURL("https", "other.example"))); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.recall(pingURL("https", "other.example"), "other.example"); ok {
		t.Error("an answer saved for registry.example was recalled for other.example")
	}
	if err := os.WriteFile(m.path(u), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.recall(u, "registry.example"); ok {
		t.Error("a file that does not parse was recalled")
	}
	// An answer that is not trusted replaces nothing with itself: it is
	// forgotten.
	m.save(pingAnswer{URL: u, Status: 200, Saved: now}, "registry.example")
	m.save(pingAnswer{URL: u, Status: 401, Challenge: []string{`Bearer realm="https://auth.example/token"`}, Saved: now}, "registry.example")
	if _, ok := m.recall(u, "registry.example"); ok {
		t.Error("an earlier answer was kept after one that is not trusted")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestStaleAnswer(t *testing.T) {
	for _, c := range []struct {
		scheme string
		status int
		want   bool
	}{
		{"https", 401, true}, {"http", 401, true}, {"http", 400, true},
		{"https", 400, false}, {"http", 404, false}, {"https", 200, false}, {"http", 403, false},
	} {
		req := httptest.NewRequest(http.MethodHead, c.scheme+"://registry.example/v2/r/manifests/v1", nil)
		if got := staleAnswer(req, &http.Response{StatusCode: c.status}); got != c.want {
			t.Errorf("%d to %s: stale = %v, want %v", c.status, c.scheme, got, c.want)
		}
	}
}
