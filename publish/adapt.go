package publish

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/assetpack/assetpack/internal/lazyre"
)

// What a registry says during a push that changes how the rest of the push
// uploads to it. A registry that refuses a monolithic PUT, names a size
// limit (413, or GHCR's 416 "exceeds the maximum permissible limit of
// 4.00MiB") or refuses PATCH does so for every blob: the engine remembers it
// for the registry's host until the push ends, so that the next blobs start
// the way that works instead of each failing once first. A push is short
// and a registry's rules do not change in its middle; the next push starts
// from the host's policy again, in case a proxy in front of the registry
// was the one refusing.

// adapted is what one registry has said so far in this push.
type adapted struct {
	// monolithicRefused: a PUT carrying a blob was refused (not for its
	// size): stream blobs in a PATCH instead.
	monolithicRefused bool
	// patchRefused: a PATCH was refused (405, 501 or UNSUPPORTED): send
	// every blob in one PUT.
	patchRefused bool
	// maxChunk: the registry refused a body as too large; chunks of at
	// most this size go through.
	maxChunk int64
}

// policyFor is the upload policy for host for the rest of this push: the
// Registry's, adjusted by what the registry said so far.
func (e *engine) policyFor(host string) UploadPolicy {
	p := e.r.policyFor(host)
	e.mu.Lock()
	a := e.adapted[host]
	e.mu.Unlock()
	if a == nil {
		return p
	}
	switch {
	case a.patchRefused:
		p.Mode = Monolithic
	case a.maxChunk > 0:
		p.Mode, p.NoChunks = Chunked, false
		if p.MaxChunk == 0 || p.MaxChunk > a.maxChunk {
			p.MaxChunk = a.maxChunk
		}
	case a.monolithicRefused && p.Mode == Auto:
		p.Mode = Streamed
	}
	return p
}

// adapt records what host said (change edits its record) and tells the
// user once per push and kind of change, with note.
func (e *engine) adapt(host, kind, note string, change func(*adapted)) {
	e.mu.Lock()
	a := e.adapted[host]
	if a == nil {
		a = &adapted{}
		e.adapted[host] = a
	}
	change(a)
	key := "adapt " + host + " " + kind
	first := !e.noted[key]
	e.noted[key] = true
	e.mu.Unlock()
	if first && e.r.notes != nil && note != "" {
		e.r.notes(note)
	}
}

// sizeLimitOf reports whether err is a registry refusing a request body
// for its size: 413 Payload Too Large (a registry, or a proxy in front of
// it such as nginx's client_max_body_size or Cloudflare's 100 MB), or a
// 416 whose message says the body is too large (GHCR: "the request body is
// too large and exceeds the maximum permissible limit of 4.00MiB"; a 416
// about the range, such as distribution's for a Content-Range that does
// not start where the session ends, is not one). limit is the size the
// message names, or 0.
func sizeLimitOf(err error) (limit int64, ok bool) {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return 0, false
	}
	msg := strings.ToLower(terr.Error())
	switch terr.StatusCode {
	case http.StatusRequestEntityTooLarge:
	case http.StatusRequestedRangeNotSatisfiable:
		if !strings.Contains(msg, "too large") && !strings.Contains(msg, "exceeds") {
			return 0, false
		}
	default:
		return 0, false
	}
	return namedSize(msg), true
}

// sizeInText finds sizes such as "4.00MiB", "10 MB" or "4194304 bytes".
var sizeInText = lazyre.New(`(\d+(?:\.\d+)?)\s*(kib|mib|gib|kb|mb|gb|bytes)\b`)

// namedSize is the size a registry's message names as its limit: the
// smallest it mentions (a message may also name the size sent), or 0.
func namedSize(msg string) int64 {
	var limit int64
	for _, m := range sizeInText().FindAllStringSubmatch(strings.ToLower(msg), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 {
			continue
		}
		unit := map[string]float64{"kib": kib, "mib": mib, "gib": gib, "kb": 1e3, "mb": 1e6, "gb": 1e9, "bytes": 1}[m[2]]
		n := int64(v * unit)
		if limit == 0 || n < limit {
			limit = n
		}
	}
	return limit
}

// patchRefused reports whether err is a registry refusing PATCH as such
// (405 Method Not Allowed, 501 Not Implemented, or the spec's UNSUPPORTED
// error code): it takes blobs only in one PUT.
func patchRefused(err error) bool {
	return isStatus(err, http.StatusMethodNotAllowed, http.StatusNotImplemented) || hasCode(err, transport.UnsupportedErrorCode)
}

// shrink answers a refusal of a body for its size: the upload goes on in
// chunks small enough, from where the session stands, and the registry's
// next blobs start that way. It fails when no chunk can do: the registry
// takes no chunks, or asks for chunks larger than it accepts.
func (b *blobUpload) shrink(err error) error {
	host := b.s.repo.RegistryStr()
	named, _ := sizeLimitOf(err)
	b.shrinks++
	if b.policy.NoChunks {
		return fmt.Errorf("%s refused %s as too large for one request (%v), and it takes no chunked uploads: %w", host, b.name(), err, ErrLimit)
	}
	n := named
	if n <= 0 {
		// No size given: halve the chunk that was refused, or start at the
		// size every registry known takes.
		n = DefaultMaxChunk
		if b.mode == Chunked && b.lastLen > 0 {
			n = b.lastLen / 2
		}
	}
	if cur := b.policy.chunkSize(0); b.mode == Chunked && n >= cur {
		n = cur / 2 // the chunk size was refused as it is
	}
	// Chunks are at least the minimum the registry announced: fine as
	// long as that is smaller than what it refused.
	if floor := max(b.policy.MinChunk, b.minChunk); n < floor {
		if b.lastLen >= 0 && floor >= b.lastLen {
			return fmt.Errorf("%s refused %s: it asks for chunks of at least %s but refuses %s (%v): %w", host, b.name(), sizeString(floor), bodyString(b.lastLen), err, ErrLimit)
		}
		n = floor
	}
	if n < MinUploadChunk || b.shrinks > 8 {
		return fmt.Errorf("%s refused %s as too large, even %s (%v): %w", host, b.name(), bodyString(b.lastLen), err, ErrLimit)
	}
	b.policy.MaxChunk, b.mode = n, Chunked
	b.e.adapt(host, "chunk", fmt.Sprintf("note: %s refused %s as too large; uploading in chunks of %s from here on", host, bodyString(b.lastLen), sizeString(n)),
		func(a *adapted) {
			if a.maxChunk == 0 || n < a.maxChunk {
				a.maxChunk = n
			}
		})
	return nil
}

// bodyString names a request body of n bytes (n < 0: not declared).
func bodyString(n int64) string {
	if n < 0 {
		return "a request of undeclared length"
	}
	return "a request of " + sizeString(n)
}
