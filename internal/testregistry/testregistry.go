// Package testregistry starts go-containerregistry's in-process registry
// for tests: one helper instead of a copy in every package's tests. It is
// internal: nothing outside assetpack's own tests depends on it.
package testregistry

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
// (GET /v2/NAME/referrers/DIGEST) as distribution spec 1.1 has it: the
// answer to a PUT of a manifest with a subject carries OCI-Subject, the
// list gives each referrer's artifactType (the manifest's, else its
// config's media type) and honours ?artifactType= (OCI-Filters-Applied).
// go-containerregistry's registry lists referrers but does neither of
// the first two; a wrapper adds them. Without this option the registry
// answers 404 there, as Debian's docker-registry 2.8 does, and clients
// fall back to the referrers tag schema.
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
	if c.referrers {
		h = referrers(h)
	}
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

// referrers completes go-containerregistry's referrers API (see
// WithReferrers).
func referrers(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		n := len(parts)
		switch {
		case r.Method == http.MethodPut && n >= 4 && parts[n-2] == "manifests":
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Subject *struct {
					Digest string `json:"digest"`
				} `json:"subject"`
			}
			if json.Unmarshal(body, &m) == nil && m.Subject != nil {
				w.Header().Set("OCI-Subject", m.Subject.Digest)
			}
			inner.ServeHTTP(w, r)
		case r.Method == http.MethodGet && n >= 4 && parts[n-2] == "referrers":
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			var idx struct {
				SchemaVersion int               `json:"schemaVersion"`
				MediaType     string            `json:"mediaType"`
				Manifests     []json.RawMessage `json:"manifests"`
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &idx) != nil {
				copyResponse(w, rec)
				return
			}
			repo := strings.Join(parts[2:n-2], "/")
			filter := r.URL.Query().Get("artifactType")
			kept := []json.RawMessage{}
			for _, raw := range idx.Manifests {
				var d map[string]any
				json.Unmarshal(raw, &d)
				digest, _ := d["digest"].(string)
				at := artifactType(inner, repo, digest)
				if at != "" {
					d["artifactType"] = at
				}
				if filter != "" && at != filter {
					continue
				}
				b, _ := json.Marshal(d)
				kept = append(kept, b)
			}
			idx.Manifests = kept
			out, _ := json.Marshal(idx)
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			if filter != "" {
				w.Header().Set("OCI-Filters-Applied", "artifactType")
			}
			w.Write(out)
		default:
			inner.ServeHTTP(w, r)
		}
	})
}

// artifactType reads the manifest repo@digest from the registry: its
// artifactType, else its config's media type.
func artifactType(inner http.Handler, repo, digest string) string {
	req := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+url.PathEscape(digest), nil)
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, req)
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		return ""
	}
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return m.Config.MediaType
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}
