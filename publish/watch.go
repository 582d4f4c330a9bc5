package publish

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// A registry can stop reading a request's body without closing the
// connection (a stalled backend, a full buffer in a proxy): the sender then
// waits forever in a write, which no response timeout covers, since the
// response has not begun. sendBody watches the body instead: a request
// whose body has not moved for the Registry's timeout is cancelled, and the
// upload resumes from where the session stands, as after any cut.

// stallError is a request cancelled because its body stopped moving. It is
// a timeout, so the retry policy retries it (a blob upload resumes).
type stallError struct {
	host  string
	after time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%s took no bytes of the upload for %v", e.host, e.after)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// sendBody sends a request whose body is blob bytes (body may be nil for an
// empty one) like engine.send, but cancels it once the body has not moved
// for the Registry's timeout; that failure is a *stallError.
func (b *blobUpload) sendBody(req *http.Request, body *countingBody, ok ...int) (*http.Response, error) {
	timeout := b.e.r.timeout
	ctx, cancel := context.WithCancel(req.Context())
	var stalled atomic.Bool
	timer := time.AfterFunc(timeout, func() { stalled.Store(true); cancel() })
	if body != nil {
		progress := body.add
		body.add = func(n int64) {
			timer.Reset(timeout)
			if progress != nil {
				progress(n)
			}
		}
	}
	resp, err := b.e.send(b.c, req.WithContext(ctx), ok...)
	timer.Stop()
	if err != nil {
		cancel()
		if stalled.Load() && req.Context().Err() == nil {
			return nil, &stallError{host: req.URL.Host, after: timeout}
		}
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// cancelOnClose ends a request's context once its answer is read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
