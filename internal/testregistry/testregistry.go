// Package testregistry starts go-containerregistry's in-process registry
// for tests: one helper instead of a copy in every package's tests. It is
// internal: nothing outside assetpack's own tests depends on it.
package testregistry

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

type config struct {
	referrers bool
	wrap      func(http.Handler) http.Handler
	listener  net.Listener
}

// Option configures New.
type Option func(*config)

// WithReferrers serves the OCI 1.1 referrers API
// (GET /v2/NAME/referrers/DIGEST). Without it the registry answers 404
// there, as Debian's docker-registry 2.8 does, and clients fall back to the
// referrers tag schema.
func WithReferrers() Option { return func(c *config) { c.referrers = true } }

// WithWrap puts a handler in front of the registry, to observe or alter
// requests and responses (fault injection, counting, auth).
func WithWrap(wrap func(http.Handler) http.Handler) Option {
	return func(c *config) { c.wrap = wrap }
}

// WithListener serves on l instead of a new listener on 127.0.0.1.
func WithListener(l net.Listener) Option { return func(c *config) { c.listener = l } }

// New starts a registry on 127.0.0.1 and returns its host:port (plain
// HTTP, which assetpack allows for loopback hosts). It is closed when the
// test ends.
func New(t testing.TB, opts ...Option) string {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	ropts := []registry.Option{registry.Logger(log.New(io.Discard, "", 0))}
	if c.referrers {
		ropts = append(ropts, registry.WithReferrersSupport(true))
	}
	var h http.Handler = registry.New(ropts...)
	if c.wrap != nil {
		h = c.wrap(h)
	}
	s := httptest.NewUnstartedServer(h)
	if c.listener != nil {
		s.Listener.Close()
		s.Listener = c.listener
	}
	s.Start()
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
