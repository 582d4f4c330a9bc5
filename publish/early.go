package publish

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/logs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// An early upload streams a layer to the registry while the builder is still
// hashing it, so that a large layer's upload does not wait for a whole hash
// pass. The registry's upload protocol allows it: the digest is named only
// by the request that completes the upload (POST starts a session, PATCH
// streams the bytes, PUT ?digest= completes it, and the registry refuses
// bytes that do not match). When the hash is known, one HEAD request tells
// whether the registry had the blob all along; if it had, the early upload
// is cancelled and its session deleted, so at most the bytes sent while
// hashing are wasted. Anything that goes wrong falls back to the ordinary
// upload (HEAD, then ggcr's upload with its retries).
//
// ggcr has no API for this (its Pusher needs the digest before it starts,
// and streams only its own stream.Layer), so the three requests are made
// here, over ggcr's authenticating transport and the Registry's policy
// transport (plain-HTTP rules, statistics, Retry-After).

// early is one early upload.
type early struct {
	cancel   context.CancelFunc
	decision chan earlyDecision
	present  v1.Hash // the predicted digest, found in the registry (under Uploader.mu)
}

// earlyDecision is what the uploader learned once the layer was hashed.
type earlyDecision struct {
	digest v1.Hash
	layer  v1.Layer
	exists bool // the registry already has the blob: drop the early upload
}

// Start begins uploading a layer whose digest is not known yet: open
// streams its blob. key is the layer that Add will receive with the digest
// (see builder.WithLayerStart); until then nothing else about it is used.
// Start does nothing when blobs are mounted from another repository of the
// same registry (the mount is cheaper).
//
// A key with a Predicted method (builder.Layer) may name the digest the
// layer probably has. If the registry has that blob, nothing is sent while
// hashing: the digest decides, and a wrong guess gets an ordinary upload
// once it is known.
func (u *Uploader) Start(key v1.Layer, open func() io.ReadCloser) {
	if m := u.r.mountFrom; m != nil && m.RegistryStr() == u.repo.RegistryStr() {
		return
	}
	ctx, cancel := context.WithCancel(u.ctx)
	e := &early{cancel: cancel, decision: make(chan earlyDecision, 1)}
	u.mu.Lock()
	if u.early == nil {
		u.early = map[v1.Layer]*early{}
	}
	u.early[key] = e
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer cancel()
		select {
		case u.sem <- struct{}{}:
		case <-u.ctx.Done():
			return
		}
		if u.foundPredicted(ctx, e, key) {
			<-u.sem // nothing to send while waiting for the digest
			u.awaitPredicted(e, key)
			return
		}
		defer func() { <-u.sem }()
		location, sendErr := u.stream(ctx, key, open)
		var dec earlyDecision
		select {
		case dec = <-e.decision:
		case <-u.ctx.Done():
			u.deleteUpload(location)
			return
		}
		u.progress(key, 0, true) // from here on the count is under the digest
		switch {
		case dec.exists:
			u.deleteUpload(location)
			return
		case sendErr == nil:
			if err := u.commit(location, dec.digest); err == nil {
				size, _ := dec.layer.Size()
				u.progress(dec.digest, size, true)
				return
			}
		}
		u.deleteUpload(location)
		// Fall back to an ordinary upload, in this goroutine's slot.
		if err := u.upload(dec.digest, dec.layer); err != nil {
			u.fail(err)
		}
	}()
}

// foundPredicted asks the registry for the blob that key predicts, if any,
// and notes it in e when it is there. The request is not counted as a
// skipped blob: the guess may be wrong, and decide counts the real one.
func (u *Uploader) foundPredicted(ctx context.Context, e *early, key v1.Layer) bool {
	p, ok := key.(interface{ Predicted() (v1.Hash, bool) })
	if !ok {
		return false
	}
	d, ok := p.Predicted()
	if !ok {
		return false
	}
	if found, err := u.headBlob(uncounted(ctx), d); err != nil || !found {
		return false
	}
	u.mu.Lock()
	e.present = d
	u.mu.Unlock()
	return true
}

// awaitPredicted waits for the digest of a layer whose predicted blob the
// registry has: a right guess leaves nothing to do, a wrong one uploads the
// layer as Add would have.
func (u *Uploader) awaitPredicted(e *early, key v1.Layer) {
	var dec earlyDecision
	select {
	case dec = <-e.decision:
	case <-u.ctx.Done():
		return
	}
	u.progress(key, 0, true)
	if dec.exists {
		return
	}
	logs.Debug.Printf("layer %s is not the predicted one; uploading it", dec.digest)
	select {
	case u.sem <- struct{}{}:
	case <-u.ctx.Done():
		return
	}
	defer func() { <-u.sem }()
	if err := u.upload(dec.digest, dec.layer); err != nil {
		u.fail(err)
	}
}

// decide hands an early upload what is now known about its layer, and
// reports whether l had one. first is false when another layer with the same
// digest was added before: that one's upload stands, this one is dropped.
func (u *Uploader) decide(d v1.Hash, l v1.Layer, first bool) bool {
	u.mu.Lock()
	e := u.early[l]
	delete(u.early, l)
	var present v1.Hash
	if e != nil {
		present = e.present
	}
	u.mu.Unlock()
	if e == nil {
		return false
	}
	if !first {
		e.cancel()
		e.decision <- earlyDecision{digest: d, layer: l, exists: true}
		return true
	}
	if present == d { // predicted right, and found by foundPredicted
		e.cancel()
		size, _ := l.Size()
		u.stats.skippedBlobs.Add(1)
		u.stats.skippedBytes.Add(size)
		u.progress(d, size, true)
		e.decision <- earlyDecision{digest: d, layer: l, exists: true}
		return true
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		exists, _ := u.headBlob(u.ctx, d) // an error: let the upload finish, or fall back
		if exists {
			e.cancel()
			size, _ := l.Size()
			u.progress(d, size, true)
		}
		e.decision <- earlyDecision{digest: d, layer: l, exists: exists}
	}()
	return true
}

func (u *Uploader) url(path string) string {
	return (&url.URL{Scheme: u.repo.Scheme(), Host: u.repo.RegistryStr(), Path: "/v2/" + u.repo.RepositoryStr() + path}).String()
}

// stream opens an upload session and sends the whole blob in one PATCH; it
// returns the session's location (also after a failure, to delete it).
func (u *Uploader) stream(ctx context.Context, key v1.Layer, open func() io.ReadCloser) (string, error) {
	ctx = singleShot(ctx)
	c, err := u.client()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url("/blobs/uploads/"), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	err = transport.CheckError(resp, http.StatusAccepted) // reads the error body, if any
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	loc, err := resp.Location()
	if err != nil {
		return "", err
	}
	body := open()
	defer body.Close()
	counted := &countingReader{ReadCloser: body, add: func(n int64) { u.progress(key, n, false) }}
	req, err = http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), counted)
	if err != nil {
		return loc.String(), err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.Do(req)
	if err != nil {
		return loc.String(), err
	}
	err = transport.CheckError(resp, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	resp.Body.Close()
	if err != nil {
		return loc.String(), err
	}
	next, err := resp.Location()
	if err != nil {
		return loc.String(), err
	}
	return next.String(), nil
}

// commit completes an upload session with the blob's digest.
func (u *Uploader) commit(location string, d v1.Hash) error {
	c, err := u.client()
	if err != nil {
		return err
	}
	sep := "?"
	if strings.Contains(location, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(singleShot(u.ctx), http.MethodPut, location+sep+"digest="+url.QueryEscape(d.String()), http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
}

// headBlob asks the registry for the blob by digest.
func (u *Uploader) headBlob(ctx context.Context, d v1.Hash) (bool, error) {
	c, err := u.client()
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(singleShot(ctx), http.MethodHead, u.url("/blobs/"+d.String()), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HEAD %s: HTTP %d", req.URL.Redacted(), resp.StatusCode)
}

// deleteUpload abandons an upload session, if one was opened; best effort,
// since registries expire abandoned sessions anyway.
func (u *Uploader) deleteUpload(location string) {
	if location == "" {
		return
	}
	c, err := u.client()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(singleShot(ctx), http.MethodDelete, location, nil)
	if err != nil {
		return
	}
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
}

// earlyState is the part of an Uploader that early uploads use.
type earlyState struct {
	early map[v1.Layer]*early
}

// debugTransport logs each single-shot request's method, URL and status
// (early and monolithic uploads, their HEADs) to ggcr's debug
// log (--debug), never headers or bodies.
type debugTransport struct{ inner http.RoundTripper }

func (t debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	logs.Debug.Printf("--> %s %s [sent once, not retried; headers and body not logged]", req.Method, req.URL.Redacted())
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		logs.Debug.Printf("<-- %v %s %s (%s)", err, req.Method, req.URL.Redacted(), time.Since(start))
		return nil, err
	}
	logs.Debug.Printf("<-- %d %s %s (%s)", resp.StatusCode, req.Method, req.URL.Redacted(), time.Since(start))
	return resp, nil
}
