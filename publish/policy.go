package publish

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// UploadMode is how the engine sends a blob's bytes (see UploadPolicy).
type UploadMode int

const (
	// Auto sends a blob whose digest is known monolithically and streams one
	// whose digest is not known yet (an early upload, see Uploader.Start).
	// It is the default: the fewest round trips per blob.
	Auto UploadMode = iota
	// Monolithic never sends a PATCH: POST opens a session and one PUT
	// ?digest= carries the bytes, for registries that take nothing else.
	// Early uploads are off, since they need a PATCH.
	Monolithic
	// Streamed sends the bytes in one PATCH without a declared length
	// (chunked transfer encoding), then an empty PUT ?digest=, as
	// go-containerregistry and docker do.
	Streamed
	// Chunked sends PATCH requests with Content-Range and Content-Length of
	// at most the policy's chunk size each, then an empty PUT ?digest= (or
	// one that carries the last chunk; see UploadPolicy.FinalChunkInPut).
	Chunked
)

func (m UploadMode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Monolithic:
		return "monolithic"
	case Streamed:
		return "streamed"
	case Chunked:
		return "chunked"
	}
	return fmt.Sprintf("UploadMode(%d)", int(m))
}

// DefaultMaxChunk is the PATCH size of a Chunked upload unless the policy
// says otherwise: GHCR refuses a PATCH that declares more than 4 MiB with
// "416 ... exceeds the maximum permissible limit of 4.00MiB"
// (ocx-sh/ocx#237, oras-project/rust-oci-client#35).
const DefaultMaxChunk = 4 << 20

// UploadPolicy says how blobs are uploaded. Its zero value is the default
// for a registry that is not known: Auto, with the registry's Range header
// believed. Registries differ in what they accept and what they report: a
// known registry's host gets its own policy (see Limits and
// WithRegistryProfile for the table), WithUploadMode and
// WithUploadChunkSize override parts of it for every host, and
// WithUploadPolicy replaces it for every host.
type UploadPolicy struct {
	Mode UploadMode
	// MaxChunk is the size of each PATCH of a Chunked upload but the last
	// (DefaultMaxChunk if 0). When set, it also bounds what any PATCH
	// declares: the rest of a streamed upload resumed in its middle goes in
	// chunks of at most this size, as GHCR refuses a PATCH that declares
	// more than 4 MiB. MinChunk is a lower bound, and so is the
	// OCI-Chunk-Min-Length header of the registry's answer to the POST that
	// opens the session; when a lower bound exceeds MaxChunk, the chunks are
	// that size instead (the distribution spec says chunks SHOULD be at
	// least the announced minimum).
	MinChunk, MaxChunk int64
	// IgnoreRange makes the engine count the offset of an upload from its
	// own acknowledged requests instead of the Range header of the
	// registry's answers to PATCH: ECR's Range can stop advancing while the
	// bytes are stored (aws/containers-roadmap#2831). A resumed upload then
	// continues from the Range that the session reports (GET on the upload
	// URL) when it lies between the last acknowledged byte and what was
	// sent, else from the last acknowledged byte; if the registry then
	// refuses that offset, the upload starts again.
	IgnoreRange bool
	// FinalChunkInPut sends the last chunk of a Chunked upload in the PUT
	// that completes it instead of a PATCH followed by an empty PUT: ECR has
	// answered an empty final PUT with 500 (cirruslabs/tart#159). The
	// distribution spec allows either ("Pushing a blob in chunks").
	FinalChunkInPut bool
	// NoChunks says the registry takes no PATCH with a Content-Range
	// (Google Artifact Registry documents that it does not support chunked
	// uploads): a size limit cannot be met with smaller chunks, and a blob
	// cut in its middle starts again in a new session instead of resuming.
	// Chunked mode, when asked for, clears it.
	NoChunks bool
}

// WithUploadPolicy sets how blobs are uploaded to every registry, in place
// of the policy of each known registry (see Limits). Without it, a known
// registry's host gets its own policy and any other host the zero
// UploadPolicy: monolithic uploads of blobs whose digest is known,
// streamed early uploads.
func WithUploadPolicy(p UploadPolicy) RegistryOption {
	return func(r *Registry) error {
		if p.Mode < Auto || p.Mode > Chunked {
			return fmt.Errorf("upload policy: unknown mode %d", int(p.Mode))
		}
		if p.MinChunk < 0 || p.MaxChunk < 0 {
			return fmt.Errorf("upload policy: chunk sizes must not be negative, got min %d and max %d", p.MinChunk, p.MaxChunk)
		}
		r.policy, r.policySet = p, true
		return nil
	}
}

// ParseUploadMode reads an upload mode: auto, monolithic, streamed or
// chunked, in any case.
func ParseUploadMode(s string) (UploadMode, error) {
	for _, m := range []UploadMode{Auto, Monolithic, Streamed, Chunked} {
		if strings.EqualFold(strings.TrimSpace(s), m.String()) {
			return m, nil
		}
	}
	return Auto, optionError("upload mode", s, "%q is not supported: use auto, monolithic, streamed or chunked", s)
}

// WithUploadMode sets the upload mode for every registry, keeping the rest
// of each host's policy (ECR's offset counting, a registry's minimum
// chunk). Auto, the default, keeps each host's own mode.
func WithUploadMode(m UploadMode) RegistryOption {
	return func(r *Registry) error {
		if m < Auto || m > Chunked {
			return optionError("upload mode", strconv.Itoa(int(m)), "%d is not a mode: use Auto, Monolithic, Streamed or Chunked", int(m))
		}
		r.mode = m
		return nil
	}
}

// MinUploadChunk is the smallest chunk WithUploadChunkSize takes.
const MinUploadChunk = 64 << 10

// WithUploadChunkSize sets the size of the PATCH chunks for every registry
// and, unless WithUploadMode says otherwise, uploads every blob in chunks of
// that size (a registry's announced minimum still raises it). 0, the
// default, keeps each host's own.
func WithUploadChunkSize(n int64) RegistryOption {
	return func(r *Registry) error {
		if n != 0 && n < MinUploadChunk {
			return optionError("upload chunk size", strconv.FormatInt(n, 10), "must be at least %d bytes (64 KiB), got %d", MinUploadChunk, n)
		}
		r.chunk = n
		return nil
	}
}

// policyFor is the upload policy for a registry host: WithUploadPolicy's if
// given, else the known registry's (see hosts.go) or the zero policy, with
// the overrides of WithUploadMode and WithUploadChunkSize.
func (r *Registry) policyFor(host string) UploadPolicy {
	if r.policySet {
		return r.policy
	}
	var p UploadPolicy
	if hp, ok := r.profileFor(host); ok {
		p = hp.policy
	}
	if r.chunk > 0 {
		p.MaxChunk, p.Mode = r.chunk, Chunked
	}
	if r.mode != Auto {
		p.Mode = r.mode
	}
	if p.Mode == Chunked {
		p.NoChunks = false
	}
	return p
}

// chunkSize is the size of each PATCH of a Chunked upload but the last,
// given the registry's announced minimum (0 if none).
func (p UploadPolicy) chunkSize(registryMin int64) int64 {
	size := p.MaxChunk
	if size <= 0 {
		size = DefaultMaxChunk
	}
	return max(size, p.MinChunk, registryMin)
}

// Layer is what publish can use of a layer beyond v1.Layer: builder.Layer
// implements it. The uploader checks for it once per layer (l.(Layer));
// a layer without these methods is uploaded as any v1.Layer is.
type Layer interface {
	v1.Layer
	// Cached reports whether the layer's digest came from a build cache
	// without its files being read. Such a layer waits for Push: if the
	// registry has the manifest, its blobs are not checked one by one (see
	// Uploader.Add).
	Cached() bool
	// Predicted is, for a layer still being hashed (see Uploader.Start), a
	// guess of its digest, if there is one. If the registry has that blob,
	// nothing is streamed while hashing; the digest decides once known.
	Predicted() (v1.Hash, bool)
	// CompressedForRegistry opens the blob for a reader that checks the
	// digest itself, as a registry does: it may skip work that Compressed
	// does to guarantee the bytes (a second hash pass over the files).
	CompressedForRegistry() (io.ReadCloser, error)
}

// extension returns l's Layer methods, if it has them.
func extension(l v1.Layer) (Layer, bool) {
	x, ok := l.(Layer)
	return x, ok
}
