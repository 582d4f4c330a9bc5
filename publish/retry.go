package publish

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The engine's one retry policy. Every request it makes (pings and tokens
// when a session opens, HEADs, POSTs, PATCHes, PUTs, GETs of an upload's
// status) goes through a retrier: after a failure that retryable accepts, it
// waits as the backoff says, or as the registry's Retry-After says on a
// 429 or 503, and tries again, at most Steps attempts in all and at most
// maxRetryWait of waiting in all. A Retry-After is waited out as given
// when it fits in what is left of that budget, and the user hears of each
// such wait (WithNotes), naming the registry and the wait; one that does
// not fit ends the operation at once, with a note saying why, instead of
// trying again before the registry said to (rate limits such as Docker
// Hub's or GHCR's answer 429 with the time to wait). A blob
// upload is one operation with one retrier: a failure in its middle is
// followed by a resume (see blob.go), not by the same request again, and
// each request that moves the upload forward starts the count afresh, so a
// long upload over a link that drops every few minutes still completes.
const maxRetryWait = 2 * time.Minute // all waits of one operation, at most

// retrier counts the attempts of one operation.
type retrier struct {
	backoff remote.Backoff
	failed  int           // failed attempts since the operation last moved forward
	waited  time.Duration // time waited since then
	sleep   func(context.Context, time.Duration) error
	// note hears of each Retry-After wait (waited false: it did not fit in
	// the budget, and the operation ends).
	note func(wait time.Duration, waited bool, err error)
}

func (r *Registry) retrier() *retrier {
	b := DefaultBackoff
	if r.backoff != nil {
		b = *r.backoff
	}
	return &retrier{backoff: b, sleep: sleepCtx}
}

// retrier is a retrier for an operation on host that tells the user of
// every Retry-After wait through the Registry's notes.
func (e *engine) retrier(host string) *retrier {
	rt := e.r.retrier()
	if e.r.notes == nil {
		return rt
	}
	rt.note = func(wait time.Duration, waited bool, err error) {
		status := "asked"
		var terr *transport.Error
		if errors.As(err, &terr) {
			status = fmt.Sprintf("answered %d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
		}
		if waited {
			e.r.notes(fmt.Sprintf("note: %s %s with Retry-After: waiting %v before trying again", host, status, wait))
			return
		}
		e.r.notes(fmt.Sprintf("note: %s %s with Retry-After of %v, more than is left of the %v a push waits for one request: giving up", host, status, wait, maxRetryWait))
	}
	return rt
}

// progressed notes that the operation moved forward (a blob upload had
// bytes acknowledged): the count of attempts and waits starts again.
func (r *retrier) progressed() { r.failed, r.waited = 0, 0 }

// again reports whether the operation should be tried again after err,
// after waiting as the policy says (false when ctx ends first).
func (r *retrier) again(ctx context.Context, err error) bool {
	replayed := errors.Is(err, errBodyReplayed)
	if !replayed && !retryable(err) && !isStatus(err, http.StatusRequestedRangeNotSatisfiable) {
		return false
	}
	r.failed++
	if r.failed >= max(r.backoff.Steps, 1) {
		return false
	}
	wait := r.delay(r.failed)
	d, asked := retryAfterOf(err)
	if asked {
		wait = d
		if r.waited+wait > maxRetryWait {
			if r.note != nil {
				r.note(wait, false, err)
			}
			return false
		}
		if r.note != nil {
			r.note(wait, true, err)
		}
	}
	if replayed {
		// The authenticating transport refreshed its token and tried to
		// send the request again, which a streamed body cannot be: send
		// it anew at once, with the new token.
		wait = 0
	}
	if r.waited+wait > maxRetryWait {
		return false
	}
	r.waited += wait
	logs.Debug.Printf("retrying in %v after: %v", wait.Round(time.Millisecond), err)
	return r.sleep(ctx, wait) == nil
}

// delay is the backoff before attempt n+1, after n failures.
func (r *retrier) delay(n int) time.Duration {
	b := r.backoff
	d := float64(b.Duration) * math.Pow(max(b.Factor, 1), float64(n-1))
	if b.Cap > 0 {
		d = min(d, float64(b.Cap))
	}
	if b.Jitter > 0 {
		d += rand.Float64() * b.Jitter * d
	}
	return time.Duration(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// statusError is a registry's answer with an unexpected status: the
// registry's message, as transport.CheckError reads it (callers match it
// with errors.As(err, **transport.Error)), and its Retry-After.
type statusError struct {
	err        *transport.Error
	retryAfter time.Duration
	hasWait    bool
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// checkStatus returns nil when resp has one of the statuses in ok, else a
// *statusError; it reads the body of a response it refuses, but closes
// nothing.
func checkStatus(resp *http.Response, ok ...int) error {
	err := transport.CheckError(resp, ok...)
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	se := &statusError{err: terr}
	se.retryAfter, se.hasWait = retryAfter(resp)
	return se
}

// retryAfterOf is the Retry-After wait that came with err, if any.
func retryAfterOf(err error) (time.Duration, bool) {
	var se *statusError
	if errors.As(err, &se) && se.hasWait {
		return se.retryAfter, true
	}
	return 0, false
}

// isStatus reports whether err is a registry answer with one of these statuses.
func isStatus(err error, codes ...int) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, c := range codes {
		if terr.StatusCode == c {
			return true
		}
	}
	return false
}

// hasCode reports whether err is a registry answer naming this error code.
func hasCode(err error, code transport.ErrorCode) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// retryAfter reports a Retry-After wait on 429 and 503 responses (a date
// in the past is no wait).
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
	return min(max(d, 0), 24*time.Hour), true
}

// errBodyReplayed: a request body was about to be sent a second time by a
// transport below the engine (ggcr's bearer transport sends a request again
// after it refreshed its token), which a body read from a stream cannot be.
var errBodyReplayed = errors.New("request body already sent once")

// replayGuard fails a request whose body (a *countingBody) was sent once
// already, instead of letting it go out truncated; the engine then sends
// the request anew (a blob upload from its session's offset).
type replayGuard struct{ inner http.RoundTripper }

func (g replayGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if b, ok := req.Body.(*countingBody); ok && !b.claim() {
		return nil, fmt.Errorf("%s %s: %w", req.Method, logURL(req.URL), errBodyReplayed)
	}
	return g.inner.RoundTrip(req)
}
