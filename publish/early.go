package publish

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/logs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
// upload (HEAD, then an upload as the policy says).
//
// ggcr has no API for this (its Pusher needs the digest before it starts,
// and streams only its own stream.Layer); the engine's blob upload (blob.go)
// streams it, or sends it in chunks under a Chunked policy, and resumes it
// in its session when a request fails in the middle.

// early is one early upload.
type early struct {
	cancel   context.CancelFunc
	decision chan earlyDecision
	present  v1.Hash // the predicted digest, found in the registry (under Uploader.mu)
	// A compressed layer's upload begins only once it has a slot, in a
	// repository with no tag (see Start); until then (streaming false,
	// under Uploader.mu) Add takes the layer over as any other.
	compressed, streaming bool
}

// earlyDecision is what the uploader learned once the layer was hashed.
type earlyDecision struct {
	digest v1.Hash
	layer  v1.Layer
	exists bool // the registry already has the blob: drop the early upload
}

// Start begins uploading a layer whose digest is not known yet: open
// streams its blob (it may be called again to resume the upload further
// on; see blob.go). key is the layer that Add will receive with the digest
// (see hooks.Build.LayerStart); until then only its media type and
// Predicted are used. Start does nothing when blobs are mounted from
// another repository of the same registry (the mount is cheaper), or when
// the upload policy is Monolithic (an early upload needs a PATCH).
//
// A key that is a Layer may predict the digest the layer probably has
// (Predicted). If the registry has that blob, nothing is sent while
// hashing: the digest decides, and a wrong guess gets an ordinary upload
// once it is known.
//
// A compressed layer takes far longer to encode than to hash, so by the
// time its digest is known an early upload has sent all of it. It starts
// only in a repository with no tag (see tagless): a first push, where the
// registry has none of its blobs, and only in the push's first wave (see
// streamFrom). Otherwise it waits for its digest and is checked and
// uploaded as Add would have.
func (u *Uploader) Start(key v1.Layer, open func() io.ReadCloser) {
	if m := u.r.mountFrom; m != nil && m.RegistryStr() == u.repo.RegistryStr() {
		return
	}
	policy := u.e.policyFor(u.repo.RegistryStr())
	if policy.Mode == Monolithic {
		return
	}
	compressed := true
	if mt, err := key.MediaType(); err == nil && (mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer) {
		compressed = false
	}
	ctx, cancel := context.WithCancel(u.ctx)
	e := &early{cancel: cancel, decision: make(chan earlyDecision, 1), compressed: compressed}
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
		done := u.ctx.Done()
		if compressed {
			if !u.tagless() || u.waveFull() {
				u.withdraw(key, e) // Add takes it as any other layer
				return
			}
			done = ctx.Done() // Add took it over (see decide)
		}
		select {
		case u.sem <- struct{}{}:
		case <-done:
			return
		}
		if compressed && !u.streamFrom(key, e) {
			// Encoded while waiting for the slot: Add uploads it as any
			// other layer. That costs a round trip less than completing a
			// stream (POST, PATCH, then PUT the digest, against POST, then
			// PUT the bytes), which would tell after every blob of a wave
			// sent together.
			<-u.sem
			return
		}
		if u.foundPredicted(ctx, e, key) {
			<-u.sem // nothing to send while waiting for the digest
			u.awaitPredicted(e, key)
			return
		}
		defer func() { <-u.sem }()
		b := u.e.newBlobUpload(u.session(), v1.Hash{}, -1, func() (io.ReadCloser, error) { return open(), nil }, policy)
		b.progress = func(pos int64) { u.progress(key, pos) }
		sendErr := b.run(ctx, false)
		var dec earlyDecision
		select {
		case dec = <-e.decision:
		case <-u.ctx.Done():
			b.abort()
			return
		}
		u.progress(key, 0) // from here on the count is under the digest
		size, _ := dec.layer.Size()
		if !dec.exists && sendErr == nil && (b.end < 0 || b.end == size) {
			b.digest, b.size = dec.digest, size
			b.progress = func(pos int64) { u.progress(dec.digest, pos) }
			err := b.run(u.ctx, true)
			if err == nil {
				u.stats.record(u.repo, dec.digest, size, BlobEarlyUpload, b.a)
				u.progress(dec.digest, size)
				return
			}
			logs.Debug.Printf("completing the early upload of %s: %v; uploading it again", dec.digest, err)
		} else if sendErr != nil && !dec.exists {
			logs.Debug.Printf("early upload of %s: %v; uploading it again", dec.digest, sendErr)
		}
		b.abort()
		u.stats.record(u.repo, dec.digest, size, "", b.a) // the bytes it sent
		if dec.exists {
			return
		}
		// Fall back to an ordinary upload, in this goroutine's slot.
		if err := u.upload(dec.digest, dec.layer); err != nil {
			u.fail(err)
		}
	}()
}

// withdraw drops key's early upload before it began, so that Add handles
// the layer as any other (if Add came first, decide did the same).
func (u *Uploader) withdraw(key v1.Layer, e *early) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.early[key] == e {
		delete(u.early, key)
	}
}

// streamFrom marks e's upload as begun, so that Add no longer takes the
// layer over; false if Add already has, or if the push's first wave of
// compressed layers (one per upload slot) has streamed already. The first
// wave is what would leave the link idle while the first layers are
// compressed; after it, finished layers are waiting for slots, and a
// stream would only cost more of the registry's CPU and of ours than an
// upload of the whole file (sendfile on plain HTTP): with the registry on
// the same two cores, streaming every layer made the site's push 5%
// slower (1.94 s to 2.04 s, median of 8).
func (u *Uploader) streamFrom(key v1.Layer, e *early) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.early[key] != e || u.streamed >= cap(u.sem) {
		return false
	}
	u.streamed++
	e.streaming = true
	return true
}

// waveFull reports whether the first wave of compressed layers has
// streamed (see streamFrom): a later layer need not wait for a slot only
// to give it back.
func (u *Uploader) waveFull() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.streamed >= cap(u.sem)
}

// tagless reports whether the uploader's repository has no tag, or does not
// exist yet: a first push. A blob belongs to a repository (a HEAD there finds
// only what was pushed or mounted there), and a registry keeps a
// repository's blobs for the manifests its tags name, so such a repository
// has none of the image's blobs, or only the leftovers of an earlier push
// that failed or was untagged. It asks once per push, when the first
// compressed layer starts (GET /v2/REPO/tags/list?n=1, "Listing Tags" in the
// distribution spec); any answer but an empty list or NAME_UNKNOWN counts as
// not tagless.
func (u *Uploader) tagless() bool {
	u.taglessOnce.Do(func() {
		u.isTagless = u.e.tagless(u.ctx, u.session())
		logs.Debug.Printf("%s has no tags: %t", u.repo, u.isTagless)
	})
	return u.isTagless
}

// foundPredicted asks the registry for the blob that key predicts, if any,
// and notes it in e when it is there. The request is not counted as a
// skipped blob: the guess may be wrong, and decide counts the real one.
func (u *Uploader) foundPredicted(ctx context.Context, e *early, key v1.Layer) bool {
	x, ok := extension(key)
	if !ok {
		return false
	}
	d, ok := x.Predicted()
	if !ok {
		return false
	}
	if found, err := u.e.headBlob(ctx, u.session(), d); err != nil || !found {
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
	u.progress(key, 0)
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
// reports whether l had one (a compressed layer's upload that has not begun
// is dropped instead, and does not count). first is false when another
// layer with the same digest was added before: that one's upload stands,
// this one is dropped.
func (u *Uploader) decide(d v1.Hash, l v1.Layer, first bool) bool {
	u.mu.Lock()
	e := u.early[l]
	delete(u.early, l)
	if e != nil && e.compressed && !e.streaming {
		// Not begun: an ordinary upload it is.
		u.mu.Unlock()
		e.cancel()
		return false
	}
	var present v1.Hash
	if e != nil {
		present = e.present
		u.settle(l, d) // from here on the early upload counts under d
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
	size, _ := l.Size()
	if present == d { // predicted right, and found by foundPredicted
		e.cancel()
		u.stats.record(u.repo, d, size, BlobPresent, blobAttempt{})
		u.progress(d, size)
		e.decision <- earlyDecision{digest: d, layer: l, exists: true}
		return true
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		exists, _ := u.e.headBlob(u.ctx, u.session(), d) // an error: let the upload finish, or fall back
		if exists {
			e.cancel()
			u.stats.record(u.repo, d, size, BlobPresent, blobAttempt{})
			u.progress(d, size)
		}
		e.decision <- earlyDecision{digest: d, layer: l, exists: exists}
	}()
	return true
}

// tagless lists at most one tag of s's repository and reports whether it has
// none (see Uploader.tagless).
func (e *engine) tagless(ctx context.Context, s *session) bool {
	resp, err := e.do(ctx, s, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, repoURL(s.repo, "/tags/list")+"?n=1", nil)
	}, http.StatusOK)
	if err != nil {
		return hasCode(err, transport.NameUnknownErrorCode)
	}
	defer drain(resp)
	var list struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		return false
	}
	return len(list.Tags) == 0
}
