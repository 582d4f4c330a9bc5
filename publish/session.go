package publish

import (
	"context"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// An Uploader talks to its repository over one authenticated session: the
// registry is pinged (and a bearer token fetched) once, while the build is
// still walking the files, instead of once per ggcr call (each of which
// pinged, and on a registry with tokens fetched a token, before its own
// request: three extra round trips after the build of an unchanged
// re-push, more for a first push).
//
// ggcr takes an already authenticated transport when it is a
// transport.Wrapper (what transport.NewWithContext returns), and then adds
// nothing to it; so the session adds what ggcr's remote would: its request
// log under --debug, its retries with our backoff and predicate, and the
// user agent. Requests made here (early and monolithic uploads, whose
// bodies are streams read once) are marked single-shot: no retries, and a
// log line without headers or bodies; on failure they fall back to ggcr's
// upload, which retries.

// singleShotKey marks a request context whose requests are sent once.
type singleShotKey struct{}

func singleShot(ctx context.Context) context.Context {
	return context.WithValue(ctx, singleShotKey{}, true)
}

// uncountedKey marks a request context whose blob HEADs are not counted as
// skipped blobs (see Uploader.foundPredicted).
type uncountedKey struct{}

func uncounted(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncountedKey{}, true)
}

// splitTransport sends single-shot requests through once, every other
// request through retrying.
type splitTransport struct{ once, retrying http.RoundTripper }

func (t splitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Value(singleShotKey{}) != nil {
		return t.once.RoundTrip(req)
	}
	return t.retrying.RoundTrip(req)
}

// warm starts the session in the background; ggcr calls and uploads made
// later wait for it.
func (u *Uploader) warm() {
	go u.session()
}

// session returns the uploader's authenticated transport, made once: push
// and pull on its repository (and pull on --mount-from's, so that mounts
// keep working on the same registry).
func (u *Uploader) session() (http.RoundTripper, error) {
	u.sessionOnce.Do(func() {
		auth, err := authn.Resolve(u.ctx, u.r.keychain, u.repo)
		if err != nil {
			u.sessionErr = err
			return
		}
		policy := u.r.transport(u.stats)
		var once, logged http.RoundTripper = policy, policy
		if logs.Enabled(logs.Debug) {
			once, logged = debugTransport{policy}, transport.NewLogger(policy)
		}
		backoff := DefaultBackoff
		if u.r.backoff != nil {
			backoff = *u.r.backoff
		}
		retrying := transport.NewRetry(logged, transport.WithRetryBackoff(backoff),
			transport.WithRetryPredicate(retryable), transport.WithRetryStatusCodes(retryStatusCodes...))
		base := transport.NewUserAgent(splitTransport{once: once, retrying: retrying}, "assetpack")
		scopes := []string{u.repo.Scope(transport.PushScope)}
		if m := u.r.mountFrom; m != nil && m.RegistryStr() == u.repo.RegistryStr() && m.String() != u.repo.String() {
			scopes = append(scopes, m.Scope(transport.PullScope))
		}
		u.rt, u.sessionErr = transport.NewWithContext(u.ctx, u.repo.Registry, auth, base, scopes)
	})
	return u.rt, u.sessionErr
}

// client returns an HTTP client over the session.
func (u *Uploader) client() (*http.Client, error) {
	rt, err := u.session()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

// remoteOptions are ggcr's options for calls on the uploader's repository:
// over the session, or, if it could not be made (the registry is down, the
// credentials are refused), the Registry's own, so that ggcr makes the
// same attempt and reports its error as it always did.
func (u *Uploader) remoteOptions(ctx context.Context) []remote.Option {
	opts := u.r.remoteOptions(ctx, u.stats)
	if rt, err := u.session(); err == nil {
		opts = append(opts, remote.WithTransport(rt))
	}
	return opts
}

// getPusher returns the uploader's ggcr Pusher, made once over the session.
func (u *Uploader) getPusher() (*remote.Pusher, error) {
	u.pusherOnce.Do(func() {
		u.pusher, u.pusherErr = remote.NewPusher(u.remoteOptions(u.ctx)...)
	})
	return u.pusher, u.pusherErr
}

// sessionState is the part of an Uploader that its session uses.
type sessionState struct {
	sessionOnce sync.Once
	rt          http.RoundTripper
	sessionErr  error
	pusherOnce  sync.Once
	pusher      *remote.Pusher
	pusherErr   error
}
