package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// answer is a registry answer with this status and Retry-After (seconds,
// or none if negative), as checkStatus makes it.
func answer(status, retryAfterSecs int) error {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: &http.Request{Method: http.MethodPatch}}
	if retryAfterSecs >= 0 {
		resp.Header.Set("Retry-After", fmt.Sprint(retryAfterSecs))
	}
	return checkStatus(resp, http.StatusAccepted)
}

// TestRetrier: the one retry policy. Backoff waits between attempts, at
// most Steps attempts; Retry-After replaces the backoff's wait, as given
// while it fits in 2 minutes in all; a refused replay is sent anew at once;
// an operation that moves forward starts its count afresh; what is not
// transient is not retried.
func TestRetrier(t *testing.T) {
	run := func(b remote.Backoff, errs ...error) (waits []time.Duration, tries int) {
		var r *retrier
		r = &retrier{backoff: b, sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
		tries = 1
		for _, err := range errs {
			if err == nil {
				r.progressed()
				continue
			}
			if !r.again(context.Background(), err) {
				return waits, tries
			}
			tries++
		}
		return waits, tries
	}
	b := remote.Backoff{Duration: time.Second, Factor: 2, Steps: 5}
	s503 := answer(http.StatusServiceUnavailable, -1)

	if waits, tries := run(b, s503, s503, s503, s503, s503, s503); tries != 5 || !slices.Equal(waits, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}) {
		t.Errorf("503s: %d tries, waits %v; want 5 tries, 1 2 4 8 s", tries, waits)
	}
	b20 := remote.Backoff{Duration: time.Second, Factor: 2, Steps: 20}
	if waits, tries := run(b20, answer(http.StatusTooManyRequests, 3600)); tries != 1 || len(waits) != 0 {
		t.Errorf("429 Retry-After 3600: %d tries, waits %v; want none: an hour is more than the 2 minutes a push waits", tries, waits)
	}
	min50 := answer(http.StatusTooManyRequests, 50)
	if waits, tries := run(b20, min50, min50, min50, min50); tries != 3 || !slices.Equal(waits, []time.Duration{50 * time.Second, 50 * time.Second}) {
		t.Errorf("429 Retry-After 50: %d tries, waits %v; want 50 s twice, then no more (2 minutes in all)", tries, waits)
	}
	if waits, _ := run(b, answer(http.StatusTooManyRequests, 3)); !slices.Equal(waits, []time.Duration{3 * time.Second}) {
		t.Errorf("429 Retry-After 3: waits %v", waits)
	}
	if waits, tries := run(b, fmt.Errorf("PATCH: %w", errBodyReplayed)); tries != 2 || !slices.Equal(waits, []time.Duration{0}) {
		t.Errorf("a refused replay: %d tries, waits %v; want another at once", tries, waits)
	}
	if _, tries := run(b, s503, s503, s503, nil, s503, s503, s503, nil, s503); tries != 8 {
		t.Errorf("failures with progress between them: %d tries, want every one retried", tries)
	}
	if _, tries := run(b, answer(http.StatusRequestedRangeNotSatisfiable, -1)); tries != 2 {
		t.Errorf("416: %d tries, want another (after asking the session where it stands)", tries)
	}
	for _, err := range []error{answer(http.StatusBadRequest, -1), answer(http.StatusUnauthorized, -1), errPlainHTTP, context.Canceled} {
		if _, tries := run(b, err); tries != 1 {
			t.Errorf("%v: %d tries, want 1", err, tries)
		}
	}
	var terr *transport.Error
	if err := answer(http.StatusBadGateway, -1); !isStatus(err, http.StatusBadGateway) || !retryable(err) || !errors.As(err, &terr) {
		t.Errorf("a 502 answer %v is not a retryable *transport.Error", err)
	}
}
