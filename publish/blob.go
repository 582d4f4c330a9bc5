package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The engine's blob upload: every PATCH and PUT of a blob is made here.
//
// The protocol is the OCI distribution spec's ("Pushing blobs"): POST opens
// an upload session and answers with its Location; the bytes go in PATCH
// requests or in the PUT ?digest= that completes the session; the registry
// checks the digest and answers 201. What the engine does on top of it:
//
//   - Modes (see UploadPolicy): monolithic (one PUT with the bytes; the
//     default, fewest round trips), streamed (one PATCH of unknown length,
//     the only way to send a blob whose digest is not known yet), chunked
//     (PATCHes with Content-Range and Content-Length, at least the
//     OCI-Chunk-Min-Length the registry announces in its answer to the POST,
//     spec "Pushing a blob in chunks"; at most the policy's size, since
//     GHCR answers a PATCH over 4 MiB with 416, ocx-sh/ocx#237 and
//     oras-project/rust-oci-client#35).
//   - Resume: when a request fails in the middle of a blob (a reset, a
//     timeout, a 5xx, a 416), the engine asks the session where it stands
//     (GET on the upload URL: 204 with "Range: 0-N" and a Location to use
//     next, spec "Pushing a blob in chunks", last part) and continues from
//     byte N+1 in the same session, as a chunk or a stream from that
//     offset. Only when the session is gone (404 BLOB_UPLOAD_UNKNOWN, or a
//     GET the registry refuses: distribution 2.8 cancels a session whose
//     stored size differs from the offset in its upload URL's state) does
//     it start again from zero in a new session. The offset it sent is its
//     own count, checked against the registry's Range, which it believes
//     unless the policy says not to (ECR's Range can stop advancing while
//     the bytes are stored, aws/containers-roadmap#2831).
//   - Reopening: to continue at byte N the blob's source is opened again and
//     moved to N: a Seek when the source can (a file, such as a stored
//     layer), else by reading and discarding N bytes, which for a layer
//     encoded from the files on demand (builder's deferred layers, early
//     uploads) costs reading and encoding those N bytes again, without
//     hashing them.
//     Distribution 2.8 (Debian's docker-registry) keeps the bytes of a
//     request cut in its middle but checks each request's upload URL state
//     against what it holds, and cancels the session when they differ
//     (distribution/distribution, registry/handlers/blobupload.go,
//     ResumeBlobUpload): behind a proxy that buffers requests it resumes,
//     otherwise such a cut costs a new session.
//   - Mounts: POST ?mount=DIGEST&from=REPO; 201 means mounted; 202 means the
//     registry opened a session instead (it cannot or will not mount, spec
//     "Mounting a blob from another repository"), which the upload then
//     uses, and the user hears of it once per push.
//   - Commit: a Docker-Content-Digest in the answer to the PUT must name the
//     digest sent: a registry that stored something else fails the push
//     (ErrDigestMismatch) before any manifest refers to the blob.
//   - A 401 in the middle: ggcr's bearer transport refreshes the token and
//     sends the request again, which a body read from a stream cannot be
//     (it would go out empty or truncated): replayGuard fails that second
//     send, and the engine resumes from the session's offset with the new
//     token (see retry.go).

// blobSource opens a blob's bytes from the start.
type blobSource func() (io.ReadCloser, error)

// at opens the blob at byte off: a Seek when the source is an io.Seeker
// (a file), else the first off bytes are read and discarded.
func (open blobSource) at(off int64) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil || off == 0 {
		return rc, err
	}
	if s, ok := rc.(io.Seeker); ok {
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			rc.Close()
			return nil, fmt.Errorf("seeking to byte %d of the blob to resume its upload: %w", off, err)
		}
		return rc, nil
	}
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		rc.Close()
		return nil, fmt.Errorf("reading the first %d bytes of the blob again to resume its upload: %w", off, err)
	}
	return rc, nil
}

// blobUpload is the upload of one blob into one repository.
type blobUpload struct {
	e      *engine
	s      *session
	c      *http.Client
	digest v1.Hash // zero until known (an early upload)
	size   int64   // -1 until known
	open   blobSource
	policy UploadPolicy
	mode   UploadMode       // Monolithic, Streamed or Chunked
	mount  *name.Repository // ask the registry to mount the blob from there first
	// progress hears how many bytes of the blob are in the session or on
	// their way, and may go back when a resume starts before that.
	progress func(pos int64)
	retry    *retrier

	loc      string // the upload URL to use next; "" before the POST
	minChunk int64  // OCI-Chunk-Min-Length of the answer to the POST
	acked    int64  // bytes the session holds, as far as the engine knows
	best     int64  // the most bytes ever acknowledged (the retrier's progress)
	sent     int64  // bytes put into requests in this session (no session holds more)
	end      int64  // where the blob ends, once a read found out; -1 before
	resync   bool   // a request failed: ask the session where it stands
	putSent  bool   // a PUT ?digest= failed: the blob may be complete anyway
	mounted  bool
	done     bool

	src    io.ReadCloser // the source, open at srcPos
	srcPos int64
	buf    []byte // one chunk, when the blob's size is not known yet

	a             blobAttempt // for the statistics
	digestRetried bool

	lastMethod string // of the last request with a body: PATCH or PUT
	lastLen    int64  // the length it declared (-1: none)
	shrinks    int    // chunk sizes tried after size refusals (adapt.go)
	rangeGuess bool   // resumed at a Range the policy does not trust (IgnoreRange)
	held       int64  // bytes of an early upload's last chunk kept in buf for the PUT (FinalChunkInPut)
}

func (e *engine) newBlobUpload(s *session, d v1.Hash, size int64, open blobSource, p UploadPolicy) *blobUpload {
	b := &blobUpload{e: e, s: s, digest: d, size: size, open: open, policy: p, mode: p.Mode, end: -1, retry: e.retrier(s.repo.RegistryStr())}
	if b.mode == Auto {
		b.mode = Monolithic
		if d == (v1.Hash{}) {
			b.mode = Streamed
		}
	}
	return b
}

func (b *blobUpload) known() bool { return b.digest != v1.Hash{} }

// allSent reports whether the session holds the whole blob.
func (b *blobUpload) allSent() bool {
	return (b.size >= 0 && b.acked == b.size) || (b.end >= 0 && b.acked == b.end)
}

// run drives the upload until the blob is complete in the registry, or,
// for an early upload (commit false), until the session holds every byte.
func (b *blobUpload) run(ctx context.Context, commit bool) error {
	if b.c == nil {
		c, err := b.e.open(b.s)
		if err != nil {
			return err
		}
		b.c = c
	}
	defer b.closeSource()
	for !b.done {
		if !commit && b.loc != "" && !b.resync && (b.allSent() || b.held > 0) {
			return nil
		}
		err := b.step(ctx, commit)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		host := b.s.repo.RegistryStr()
		if _, ok := sizeLimitOf(err); ok && b.loc != "" {
			// Too large for one request: go on in smaller chunks from where
			// the session stands.
			if serr := b.shrink(err); serr != nil {
				return serr
			}
			b.resync = true
			continue
		}
		switch {
		case b.lastMethod == http.MethodPatch && patchRefused(err):
			b.e.adapt(host, "patch", fmt.Sprintf("note: %s does not take PATCH uploads; sending each blob in one PUT", host),
				func(a *adapted) { a.patchRefused = true })
			if !commit || !b.known() {
				return err // an early upload: the blob is uploaded once its digest is known
			}
			b.mode, b.resync = Monolithic, true
			continue
		case b.rangeGuess && isStatus(err, http.StatusRequestedRangeNotSatisfiable):
			// The Range the upload resumed at was wrong after all.
			logs.Debug.Printf("%s refused the offset of %s that its session reported (%v); uploading it again from the start", host, b.name(), err)
			b.e.deleteUpload(b.s, b.loc)
			b.restart()
			continue
		case b.refusedMonolithic(err):
			logs.Debug.Printf("%s refused a monolithic upload of %s (%v); streaming it", host, b.digest, err)
			b.e.adapt(host, "monolithic", fmt.Sprintf("note: %s refused a blob in one PUT; streaming each blob in a PATCH instead", host),
				func(a *adapted) { a.monolithicRefused = true })
			b.mode = Streamed
			b.e.deleteUpload(b.s, b.loc)
			b.restart()
			continue
		case hasCode(err, transport.DigestInvalidErrorCode) && b.a.resumed > 0 && !b.digestRetried:
			// The bytes the registry holds were assembled by a resume:
			// start over once before blaming the source.
			logs.Debug.Printf("%s refused %s after a resume (%v); uploading it again from the start", b.s.repo.RegistryStr(), b.digest, err)
			b.digestRetried = true
			b.restart()
			continue
		}
		if !b.retry.again(ctx, err) {
			return err
		}
		if b.loc != "" {
			b.resync = true
		}
	}
	return nil
}

// step makes the next request of the upload.
func (b *blobUpload) step(ctx context.Context, commit bool) error {
	switch {
	case b.loc == "":
		return b.post(ctx)
	case b.resync:
		return b.status(ctx)
	case !b.allSent():
		return b.sendNext(ctx, commit)
	default:
		return b.commit(ctx, nil)
	}
}

// post opens an upload session, or mounts the blob.
func (b *blobUpload) post(ctx context.Context) error {
	u := repoURL(b.s.repo, "/blobs/uploads/")
	ok := []int{http.StatusAccepted}
	mount := b.mount != nil && b.known()
	if mount {
		u += "?" + url.Values{"mount": {b.digest.String()}, "from": {b.mount.RepositoryStr()}}.Encode()
		ok = append(ok, http.StatusCreated)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := b.e.send(b.c, req, ok...)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusCreated {
		b.mounted, b.done = true, true
		return nil
	}
	loc, err := resp.Location()
	if err != nil {
		return &ProtocolError{Host: b.s.repo.RegistryStr(), Blob: b.name(),
			What: fmt.Sprintf("answered %d to the POST that opens an upload session in %s without a Location to send the blob to", resp.StatusCode, b.s.repo.RepositoryStr())}
	}
	if mount {
		b.e.noteMountRefused(b.s.repo, *b.mount)
		b.mount = nil
	}
	b.minChunk, _ = strconv.ParseInt(strings.TrimSpace(resp.Header.Get("OCI-Chunk-Min-Length")), 10, 64)
	b.loc, b.acked, b.sent = loc.String(), 0, 0
	return nil
}

// status asks the session how many bytes it holds (GET on the upload URL),
// after a failed request, and continues from there; a session that is gone
// starts again from zero.
func (b *blobUpload) status(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.loc, nil)
	if err != nil {
		return err
	}
	resp, err := b.e.send(b.c, req, http.StatusNoContent, http.StatusOK)
	if err != nil {
		var terr *transport.Error
		if !errors.As(err, &terr) || retryable(err) {
			return err // the status is unknown yet: ask again
		}
		// 404 BLOB_UPLOAD_UNKNOWN, or a registry that does not answer
		// GET on an upload URL, or one that cancelled the session.
		logs.Debug.Printf("the upload session of %s in %s is gone (%v)", b.name(), b.s.repo, err)
		if b.putSent && b.known() {
			// The PUT that failed may have completed the blob.
			if found, err := b.e.headBlob(ctx, b.s, b.digest); err == nil && found {
				b.done = true
				return nil
			}
		}
		b.restart()
		return nil
	}
	drain(resp)
	if loc, err := resp.Location(); err == nil {
		b.loc = loc.String()
	}
	rng := resp.Header.Get("Range")
	held, ok := parseRange(rng, b.acked)
	if !ok && strings.TrimSpace(rng) != "" {
		return b.badRange(rng)
	}
	b.rangeGuess = false
	switch {
	case b.policy.NoChunks && b.mode != Chunked && (b.acked > 0 || held > 0):
		// The registry takes no Content-Range, so a session cannot be
		// continued in its middle: start again.
		logs.Debug.Printf("the upload of %s in %s was cut; %s takes no chunks: starting again", b.name(), b.s.repo, b.s.repo.RegistryStr())
		b.restart()
		return nil
	case b.policy.IgnoreRange && ok && held > b.acked && held <= b.sent:
		// A Range ahead of the last acknowledged request: the failed one
		// left bytes behind. Not to be trusted, but likely right; if the
		// registry refuses the offset, the upload starts again (run).
		b.rangeGuess = true
	case b.policy.IgnoreRange:
		held = b.acked
	case !ok && b.acked == 0:
		held = 0
	case !ok || held > b.sent:
		logs.Debug.Printf("the upload session of %s in %s reports %q, %d bytes were sent: starting again", b.name(), b.s.repo, resp.Header.Get("Range"), b.sent)
		b.restart()
		return nil
	}
	logs.Debug.Printf("resuming %s in %s at byte %d", b.name(), b.s.repo, held)
	b.resync, b.putSent = false, false
	b.acked = held
	b.a.resumed++
	b.report(held)
	return nil
}

// restart drops the session: the next step opens a new one and sends the
// blob from zero.
func (b *blobUpload) restart() {
	b.closeSource()
	b.loc, b.acked, b.sent, b.resync, b.putSent, b.held = "", 0, 0, false, false, 0
	b.a.restarted++
	b.report(0)
}

// sendNext sends the next bytes of the blob as the mode says: a monolithic
// PUT (which completes the upload), the rest of the stream in one PATCH,
// or one chunk.
func (b *blobUpload) sendNext(ctx context.Context, commit bool) error {
	switch b.mode {
	case Monolithic:
		if !commit || !b.known() || b.size < 0 {
			return fmt.Errorf("uploading a blob monolithically needs its digest and size")
		}
		src, err := b.reader(b.acked)
		if err != nil {
			return err
		}
		return b.commit(ctx, &chunk{r: io.LimitReader(src, b.size-b.acked), n: b.size - b.acked})
	case Chunked:
		return b.sendChunk(ctx, commit)
	}
	return b.sendStream(ctx)
}

// sendStream sends the rest of the blob in one PATCH: without a declared
// length from the start, as a chunk from an offset when the size is known.
func (b *blobUpload) sendStream(ctx context.Context) error {
	src, err := b.reader(b.acked)
	if err != nil {
		return err
	}
	if b.acked == 0 || b.size < 0 {
		return b.patch(ctx, &chunk{r: src, n: -1}, true)
	}
	// Resumed with the size known: the rest, declared, in chunks of at most
	// the policy's size (GHCR refuses a PATCH that declares more than 4 MiB).
	n := b.size - b.acked
	if m := b.policy.MaxChunk; m > 0 && n > m {
		return b.patch(ctx, &chunk{r: io.LimitReader(src, m), n: m}, false)
	}
	return b.patch(ctx, &chunk{r: io.LimitReader(src, n), n: n}, true)
}

// sendChunk sends one chunk in a PATCH, or the last one in the PUT that
// completes the upload when the policy says so.
func (b *blobUpload) sendChunk(ctx context.Context, commit bool) error {
	if b.held > 0 && b.acked+b.held == b.end {
		// The last chunk of an early upload, kept for the PUT.
		if !commit || !b.known() {
			return nil
		}
		return b.commit(ctx, &chunk{r: bytes.NewReader(b.buf[:b.held]), n: b.held, buffered: true})
	}
	b.held = 0
	n := b.policy.chunkSize(b.minChunk)
	src, err := b.reader(b.acked)
	if err != nil {
		return err
	}
	var c *chunk
	if b.size >= 0 {
		n = min(n, b.size-b.acked)
		c = &chunk{r: io.LimitReader(src, n), n: n}
	} else {
		// The size is not known yet: read the chunk first, to declare its
		// length (and to learn whether it is the last one).
		if int64(cap(b.buf)) < n {
			b.buf = make([]byte, n)
		}
		m, err := io.ReadFull(src, b.buf[:n])
		b.srcPos += int64(m)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			b.end = b.acked + int64(m)
		case err != nil:
			b.closeSource()
			return err
		}
		if m == 0 {
			return nil // the blob ended with the previous chunk
		}
		// Sent from memory: the source is already past these bytes.
		c = &chunk{r: bytes.NewReader(b.buf[:m]), n: int64(m), buffered: true}
	}
	last := (b.size >= 0 && b.acked+c.n == b.size) || (b.end >= 0 && b.acked+c.n == b.end)
	if last && b.policy.FinalChunkInPut {
		if commit && b.known() {
			return b.commit(ctx, c)
		}
		if c.buffered {
			// An early upload's last chunk waits in memory for the digest,
			// to go in the PUT: an empty final PUT is what ECR refuses.
			b.held = c.n
			return nil
		}
	}
	return b.patch(ctx, c, false)
}

// chunk is the body of one request: n bytes from r (n < 0: up to its end).
type chunk struct {
	r        io.Reader
	n        int64
	buffered bool // r is a copy in memory, not the source
}

// body wraps c for a request starting at byte off of the blob.
func (b *blobUpload) body(c *chunk, off int64) *countingBody {
	pos := off
	return &countingBody{r: c.r, add: func(n int64) {
		pos += n
		b.report(pos)
	}}
}

// finish accounts for a request body after its request returned: the
// source moved on by what the request read.
func (b *blobUpload) finish(c *chunk, body *countingBody, off int64) int64 {
	body.Close() // no read after this: the source is ours again
	n := body.bytesRead()
	b.a.sent += n
	b.sent = max(b.sent, off+n)
	if !c.buffered {
		b.srcPos += n
	}
	return n
}

// patch sends c in a PATCH at the session's offset; stream: c is the rest
// of the blob, so the blob ends where its body does.
func (b *blobUpload) patch(ctx context.Context, c *chunk, stream bool) error {
	off := b.acked
	body := b.body(c, off)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, b.loc, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if c.n >= 0 {
		req.ContentLength = c.n
		if c.n > 0 {
			req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+c.n-1))
		}
	} else {
		req.ContentLength = -1
	}
	b.lastMethod, b.lastLen = http.MethodPatch, c.n
	// ECR has answered a PATCH with 201 (cirruslabs/tart#273); ggcr takes
	// 204 as well.
	resp, err := b.sendBody(req, body, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	n := b.finish(c, body, off)
	if err != nil {
		return err
	}
	drain(resp)
	b.e.stats.sentBytes.Add(n)
	ours := off + n
	if stream {
		b.end = ours
	}
	if loc, err := resp.Location(); err == nil {
		b.loc = loc.String()
	}
	held := ours
	if !b.policy.IgnoreRange {
		rng := resp.Header.Get("Range")
		r, ok := parseRange(rng, ours)
		if !ok && strings.TrimSpace(rng) != "" {
			return b.badRange(rng)
		}
		if ok && r < ours {
			// The registry kept less than it was sent: continue from
			// where it stands.
			logs.Debug.Printf("%s in %s: the registry holds %d bytes after a PATCH up to %d", b.name(), b.s.repo, r, ours)
			held = r
		}
	}
	b.acked = held
	if held > b.best {
		b.best = held
		b.retry.progressed()
	}
	b.report(held)
	return nil
}

// commit completes the session with the blob's digest (PUT ?digest=),
// with c as its last bytes, or none.
func (b *blobUpload) commit(ctx context.Context, c *chunk) error {
	if !b.known() {
		return fmt.Errorf("completing an upload needs the blob's digest")
	}
	sep := "?"
	if strings.Contains(b.loc, "?") {
		sep = "&"
	}
	u := b.loc + sep + "digest=" + url.QueryEscape(b.digest.String())
	off := b.acked
	var body io.ReadCloser = http.NoBody
	var counted *countingBody
	if c != nil && c.n > 0 {
		counted = b.body(c, off)
		body = counted
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if counted != nil {
		req.ContentLength = c.n
		if off > 0 {
			// A resumed monolithic upload, or the last chunk: declare where
			// these bytes go (a first monolithic PUT declares no range, as
			// some registries then check it as a chunk, cirruslabs/tart#179).
			req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+c.n-1))
		}
	}
	b.putSent = true
	b.lastMethod, b.lastLen = http.MethodPut, 0
	if c != nil {
		b.lastLen = c.n
	}
	resp, err := b.sendBody(req, counted, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
	var n int64
	if counted != nil {
		n = b.finish(c, counted, off)
	}
	if err != nil {
		return err
	}
	drain(resp)
	b.e.stats.sentBytes.Add(n)
	b.putSent = false
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != b.digest.String() {
		return fmt.Errorf("%w: %s stored blob %s in %s as %s", ErrDigestMismatch, b.s.repo.RegistryStr(), b.digest, b.s.repo.RepositoryStr(), got)
	}
	b.acked += n
	b.done = true
	b.report(b.acked)
	return nil
}

// refusedMonolithic reports whether err is a registry refusing a PUT that
// carries a blob (some only take PATCH): in Auto mode the blob is then
// streamed.
func (b *blobUpload) refusedMonolithic(err error) bool {
	if b.policy.Mode != Auto || b.mode != Monolithic || !b.putSent || hasCode(err, transport.DigestInvalidErrorCode) {
		return false
	}
	return isStatus(err, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusLengthRequired,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusNotImplemented)
}

// reader returns the source at byte off, moving or reopening it as needed.
func (b *blobUpload) reader(off int64) (io.Reader, error) {
	if b.src != nil && b.srcPos == off {
		return b.src, nil
	}
	if s, ok := b.src.(io.Seeker); ok {
		if _, err := s.Seek(off, io.SeekStart); err == nil {
			b.srcPos = off
			return b.src, nil
		}
	}
	b.closeSource()
	rc, err := b.open.at(off)
	if err != nil {
		return nil, err
	}
	b.src, b.srcPos = rc, off
	return rc, nil
}

func (b *blobUpload) closeSource() {
	if b.src != nil {
		b.src.Close()
		b.src = nil
	}
}

func (b *blobUpload) report(pos int64) {
	if b.progress != nil {
		b.progress(pos)
	}
}

func (b *blobUpload) name() string {
	if b.known() {
		return "blob " + b.digest.String()
	}
	return "a blob being hashed"
}

// abort deletes the session, if any (best effort).
func (b *blobUpload) abort() {
	b.closeSource()
	b.e.deleteUpload(b.s, b.loc)
	b.loc = ""
}

// parseRange reads a Range header of an upload ("0-N", also with a
// "bytes=" prefix) as the number of bytes the session holds. "0-0" means
// one byte, or none for a session that registries such as distribution
// report so while empty: it is taken as expect, when that is 0 or 1.
func parseRange(h string, expect int64) (int64, bool) {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(strings.TrimPrefix(h, "bytes="), "bytes ")
	from, to, ok := strings.Cut(h, "-")
	if !ok || strings.TrimSpace(from) != "0" {
		return 0, false
	}
	end, err := strconv.ParseInt(strings.TrimSpace(to), 10, 64)
	if err != nil || end < 0 {
		return 0, false
	}
	if end == 0 && (expect == 0 || expect == 1) {
		return expect, true
	}
	return end + 1, true
}

// drain reads what is left of a small answer's body and closes it, so the
// connection is reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// badRange is the error for a Range header that is not a byte range: the
// upload cannot know where the registry stands.
func (b *blobUpload) badRange(h string) error {
	return &ProtocolError{Host: b.s.repo.RegistryStr(), Blob: b.name(),
		What: fmt.Sprintf("answered with Range %q, which is not the byte range (0-N) of an upload session, so where to continue is not known", h)}
}
