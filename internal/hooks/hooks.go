// Package hooks is the contract between package builder and assetpack's
// pipeline (package pack), which overlaps building an image with uploading
// it. It is internal to the module: the timing rules below are kept by
// those two packages together, and no other program depends on them. A
// program that only builds uses builder's exported options; one that also
// pushes uses pack.Run.
package hooks

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Build is what the pipeline tells the builder beyond the image's options.
// The zero value builds as builder.Build does on its own.
type Build struct {
	// WorkDir is where layer blobs are written: put it on the file system
	// of the final output (publish.Output.WorkDir) so that blobs are
	// hard-linked into place instead of copied. "" is a new directory under
	// os.TempDir(), removed by Result.Close; the builder never removes a
	// directory it did not create (Result.Close removes the blobs it wrote).
	WorkDir string
	// SkipPaths are paths on disk never packed, even inside the source tree
	// (the build's own output); directories that exist only to hold one are
	// dropped too.
	SkipPaths []string
	// ReuseDir is a directory of blobs named by their hex digest (an OCI
	// layout's blobs/sha256): on a build-cache hit for a layer that must be
	// stored, the blob is hard-linked from there when present with the
	// expected size, instead of being encoded again.
	ReuseDir string
	// Deferred hashes uncompressed layers without storing them in WorkDir:
	// Layer.Compressed encodes such a layer again from the files (checking
	// that the bytes still match the digest). Right when the image is only
	// pushed: a registry that already has a layer never reads it. Compressed
	// layers are always stored (compressing twice costs more than writing once).
	Deferred bool
	// LayerStart is called, in a Deferred build, for each layer about to be
	// encoded, before its digest is known, with a function that opens its
	// blob. For an uncompressed layer (hashed without being stored) that is
	// the bytes the hash will cover, each file checked as by
	// Layer.CompressedForRegistry; for a compressed one, its file in WorkDir
	// as it is written: the reader waits for bytes still to come and fails
	// if the encoding does. A reader that checks the digest itself, as a
	// registry does, can start at once. A layer from the build cache gets
	// no call.
	// The digest comes with the LayerDone call for the same layer value;
	// until then only its MediaType and Predicted methods may be used (with
	// a build cache, a guess of the digest from a sample of the files). It
	// runs on the goroutine that builds the layer and must not block.
	LayerStart func(l v1.Layer, open func() io.ReadCloser)
	// LayerDone is called with each layer as soon as its digests are known,
	// before Build returns, from the goroutine that built it: it must be
	// safe for concurrent use and must not block. The layer stays valid
	// until Result.Close; if the build fails, layers already handed over
	// are removed.
	LayerDone func(l v1.Layer)
}
