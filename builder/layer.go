package builder

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Layer media types: OCI, never Docker's.
const (
	MediaTypeLayerTar  types.MediaType = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeLayerGzip types.MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeLayerZstd types.MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
)

func (c Compression) mediaType() types.MediaType {
	switch c {
	case Gzip:
		return MediaTypeLayerGzip
	case Zstd, ZstdBetter, ZstdBest:
		return MediaTypeLayerZstd
	}
	return MediaTypeLayerTar
}

// gzipLevel is pinned: changing it changes every digest.
const gzipLevel = 6

// Layer is a layer blob stored in a file. It implements v1.Layer.
type Layer struct {
	path        string // "" for a deferred layer, encoded again when read
	digest      v1.Hash
	diffID      v1.Hash
	size        int64
	uncompSize  int64
	compression Compression
	cached      bool    // sums came from the build cache: no file was read
	predicted   v1.Hash // see Predicted

	in      layerInput // kept to encode a deferred layer again
	mtime   time.Time
	onStale func() // called when a deferred layer no longer matches its digest
}

var _ v1.Layer = (*Layer)(nil)

// Path is the file holding the compressed blob, for callers that can
// hard-link it instead of copying. It is "" for a deferred layer (one that
// a push-only build or the build cache did not store), whose blob is
// produced again from the files by Compressed.
func (l *Layer) Path() string { return l.path }

// Deferred reports whether the blob is produced on demand rather than stored.
func (l *Layer) Deferred() bool { return l.path == "" }

// Cached reports whether the layer's digests came from the build cache, so
// that the build did not read its files.
func (l *Layer) Cached() bool { return l.cached }

// Predicted is, for a layer being hashed while it uploads (package pack
// starts such uploads), the digest that the build cache recorded for a layer with the same entries and the
// same bytes at a sample of places in its files (the same model shards in a
// fresh checkout, say), before the hash is known. It is a guess, not a
// digest: the files may differ where the sample did not look. An uploader
// can ask the registry for that blob and, if it is there, wait for the
// digest instead of sending bytes the registry probably has.
func (l *Layer) Predicted() (v1.Hash, bool) { return l.predicted, l.predicted != v1.Hash{} }

// Compression is the layer's compression (never Auto).
func (l *Layer) Compression() Compression { return l.compression }

// Digest is the sha256 of the compressed blob.
func (l *Layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID is the sha256 of the uncompressed tar.
func (l *Layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size is the size of the compressed blob.
func (l *Layer) Size() (int64, error) { return l.size, nil }

// UncompressedSize is the size of the tar stream.
func (l *Layer) UncompressedSize() int64 { return l.uncompSize }

// MediaType is the OCI layer media type.
func (l *Layer) MediaType() (types.MediaType, error) { return l.compression.mediaType(), nil }

// Compressed opens the blob.
func (l *Layer) Compressed() (io.ReadCloser, error) {
	if l.path == "" {
		return l.stream(), nil
	}
	return os.Open(l.path)
}

// Uncompressed opens the layer's tar stream: a stored blob is
// decompressed; a deferred layer's tar is encoded again from the files,
// without compressing it only to decompress it, and the read fails at the
// end when the tar no longer matches the diffID (a file changed since it
// was hashed).
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	if l.path == "" && l.compression != None {
		return l.streamTar(), nil
	}
	f, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	switch l.compression {
	case Gzip:
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	case Zstd, ZstdBetter, ZstdBest:
		zr, err := zstd.NewReader(bufio.NewReaderSize(f, 1<<20), zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	}
	return f, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// zstdEncoders reuses encoders between layers: each holds several MiB of
// tables and history, and a new one per layer (50 for the site) took a zstd
// build of it to 120 MiB of RSS (84-100 MiB pooled, with buffers sized as
// needed). Reset starts an independent stream and the lower-memory mode
// only sizes buffers, so the bytes are those of a new encoder with the
// format's options (TestZstdReuse).
// There is one pool per level: Reset keeps an encoder's level.
var zstdEncoders = map[Compression]*sync.Pool{
	Zstd:       zstdPool(zstd.SpeedDefault),
	ZstdBetter: zstdPool(zstd.SpeedBetterCompression),
	ZstdBest:   zstdPool(zstd.SpeedBestCompression),
}

func zstdPool(level zstd.EncoderLevel) *sync.Pool {
	return &sync.Pool{New: func() any {
		// One goroutine: the stream's framing must not depend on scheduling.
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // fixed, valid options
		}
		return zw
	}}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// layerSums is what one encoding pass of a layer yields.
type layerSums struct {
	digest, diffID   v1.Hash
	size, uncompSize int64
}

// encodeLayer streams the sorted entries through tar, the compressor and two
// sha256 hashers into dst (which may be io.Discard), in a single pass: no
// layer is ever held in memory and no file is read twice in one pass.
func encodeLayer(ctx context.Context, dst io.Writer, in *layerInput, c Compression, mtime time.Time) (layerSums, error) {
	return encode(ctx, dst, in, c, mtime, true, nil)
}

// encode is encodeLayer; without hashing (the sums are then zero) every file
// must also keep its change time, which any write or chmod moves and no
// program can set back, in place of the digest check that the caller leaves
// to the reader. read, when set, counts the bytes read from files.
func encode(ctx context.Context, dst io.Writer, in *layerInput, c Compression, mtime time.Time, hashing bool, read func(int64)) (layerSums, error) {
	var blobHash, diffHash hash.Hash // nil without hashing
	blob := &countingWriter{w: dst}
	if hashing {
		blobHash = sha256.New()
		blob.w = io.MultiWriter(dst, blobHash)
		diffHash = blobHash // uncompressed: one stream, one hash
	}

	var comp io.WriteCloser
	switch c {
	case Gzip:
		zw, err := gzip.NewWriterLevel(blob, gzipLevel)
		if err != nil {
			return layerSums{}, err
		}
		comp = zw
		if hashing {
			diffHash = sha256.New()
		}
	case Zstd, ZstdBetter, ZstdBest:
		pool := zstdEncoders[c]
		zw := pool.Get().(*zstd.Encoder)
		zw.Reset(blob)
		defer pool.Put(zw)
		comp = zw
		if hashing {
			diffHash = sha256.New()
		}
	default:
		comp = nopWriteCloser{blob}
	}
	var tarSink io.Writer = comp
	if c != None && hashing {
		tarSink = io.MultiWriter(comp, diffHash)
	}
	raw := &countingWriter{w: tarSink}
	tw := tar.NewWriter(raw)

	i := 0
	err := in.each(func(e *entry) error {
		if i++; i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return writeEntry(ctx, tw, e, mtime, !hashing, read)
	})
	if err != nil {
		return layerSums{}, err
	}
	if err := tw.Close(); err != nil {
		return layerSums{}, fmt.Errorf("finishing layer: %w", err)
	}
	if err := comp.Close(); err != nil {
		return layerSums{}, fmt.Errorf("finishing layer compression: %w", err)
	}
	if !hashing {
		return layerSums{size: blob.n, uncompSize: raw.n}, nil
	}
	return layerSums{digest: sum(blobHash), diffID: sum(diffHash), size: blob.n, uncompSize: raw.n}, nil
}

// writeLayer encodes a layer into a file in dir, named after its digest.
//
// follow, when not nil, is told of every byte written, so that readers can
// follow the file while it is written (see followedFile).
func writeLayer(ctx context.Context, dir string, in *layerInput, c Compression, mtime time.Time, read func(int64), follow *followedFile) (_ *Layer, err error) {
	f, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		err = fmt.Errorf("creating layer file in %q: %w", dir, err)
		if follow != nil {
			follow.failed(err)
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			if follow != nil {
				follow.failed(err)
			}
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var bw *bufio.Writer
	if follow != nil {
		// Smaller writes, so that a follower sees the bytes soon after
		// they are compressed.
		follow.created(f.Name())
		bw = bufio.NewWriterSize(notifyWriter{f, follow}, 64<<10)
	} else {
		bw = bufio.NewWriterSize(f, 1<<20)
	}
	s, err := encode(ctx, bw, in, c, mtime, true, read)
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing layer to %q: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing layer to %q: %w", f.Name(), err)
	}
	l := newLayer(s, c, in, mtime)
	path := filepath.Join(dir, "sha256-"+l.digest.Hex)
	if follow != nil {
		err = follow.rename(path)
	} else {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("storing layer: %w", err)
	}
	l.path = path
	return l, nil
}

func newLayer(s layerSums, c Compression, in *layerInput, mtime time.Time) *Layer {
	return &Layer{digest: s.digest, diffID: s.diffID, size: s.size, uncompSize: s.uncompSize,
		compression: c, in: *in, mtime: mtime}
}

// CompressedForRegistry opens the blob for a reader that checks its digest
// itself, as a registry does with every upload (the request that completes
// an upload names the digest, and a registry refuses bytes that do not match
// it). A deferred layer that this process hashed is then encoded again
// without a second sha256 pass; instead, each file must still have the
// identity it had when it was hashed, change time included (see encode).
// Any other layer, a cached one included (its digest was not computed from
// these files by this process), opens as with Compressed.
func (l *Layer) CompressedForRegistry() (io.ReadCloser, error) {
	if l.path != "" || l.cached {
		return l.Compressed()
	}
	return streamLayer(&l.in, l.compression, l.mtime, false, nil), nil
}

// stream encodes a deferred layer again, into a pipe, and fails the read at
// the end when the bytes no longer match the digest (a file changed since it
// was hashed). Whoever closes the reader early stops the encoder.
func (l *Layer) stream() io.ReadCloser {
	return streamLayer(&l.in, l.compression, l.mtime, true, func(s layerSums) error {
		if s.digest == l.digest {
			return nil
		}
		if l.onStale != nil {
			l.onStale()
		}
		return fmt.Errorf("layer %s: %w: the files changed after the build hashed them (got %s); run the build again",
			l.digest, ErrFileChanged, s.digest)
	})
}

// streamTar encodes a deferred layer's tar again, uncompressed, into a
// pipe, and fails the read at the end when it no longer matches the diffID.
func (l *Layer) streamTar() io.ReadCloser {
	return streamLayer(&l.in, None, l.mtime, true, func(s layerSums) error {
		if s.digest == l.diffID && s.size == l.uncompSize {
			return nil
		}
		if l.onStale != nil {
			l.onStale()
		}
		return fmt.Errorf("layer %s: %w: the files changed after the build hashed them (tar %s, want diffID %s); run the build again",
			l.digest, ErrFileChanged, s.digest, l.diffID)
	})
}

// streamLayer encodes in into a pipe (see encode); check, if set, may fail
// the read at the end from the sums. Whoever closes the reader early stops
// the encoder.
func streamLayer(in *layerInput, c Compression, mtime time.Time, hashing bool, check func(layerSums) error) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		s, err := encode(context.Background(), bw, in, c, mtime, hashing, nil)
		if err == nil && check != nil {
			err = check(s)
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// header returns the normalised tar header of an entry: one pinned format
// (PAX), one timestamp, uid/gid 0 with empty names, fixed modes, no xattrs,
// atime, ctime or device numbers.
func header(e *entry, mtime time.Time) *tar.Header {
	h := &tar.Header{
		Name:    e.name,
		Mode:    int64(e.mode),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	switch e.kind {
	case kindDir:
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case kindFile:
		h.Typeflag = tar.TypeReg
		h.Size = e.size
	case kindSymlink:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = e.linkname
	}
	return h
}

// writeEntry writes e's header and bytes. strict also requires the file's
// change time to be the one the walk saw (see encode); read, when set,
// counts the bytes read.
func writeEntry(ctx context.Context, tw *tar.Writer, e *entry, mtime time.Time, strict bool, read func(int64)) error {
	if e.kind != kindFile {
		if err := tw.WriteHeader(header(e, mtime)); err != nil {
			return fmt.Errorf("writing tar entry for %q: %w", e.display(), err)
		}
		return nil
	}
	changed := func(detail string) error {
		return &PathError{Op: "reading", Path: e.display(), Err: ErrFileChanged, Detail: detail,
			Hint: "run the build again when nothing is writing to the tree"}
	}
	f, err := openFile(e.src())
	if err != nil {
		switch {
		case errors.Is(err, os.ErrPermission):
			return badPathOption("reading", e.display(), ErrUnreadable, "", excludeHint, "WithExcludes")
		case errors.Is(err, os.ErrNotExist):
			return changed("it was removed after the tree was listed")
		}
		return &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
	}
	defer f.Close()
	if err := tw.WriteHeader(header(e, mtime)); err != nil {
		return fmt.Errorf("writing tar entry for %q: %w", e.display(), err)
	}
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	// Hide tar.Writer's ReadFrom so that our larger buffer is used.
	n, err := io.CopyBuffer(struct{ io.Writer }{tw}, &ctxReader{ctx: ctx, r: io.LimitReader(f, e.size), read: read}, *bufp)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if id, ierr := f.identity(); ierr == nil && !id.same(e.id) {
			return changed("it was replaced or modified after the tree was listed") // by a directory, say
		}
		return &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
	}
	if testHookAfterCopy != nil {
		testHookAfterCopy(e.src())
	}
	// A file that says it is empty gets one read more: /proc and /sys
	// files report size 0 whatever they hold, and must fail rather than
	// be packed empty.
	if e.size == 0 {
		var one [1]byte
		if k, _ := f.Read(one[:]); k > 0 {
			return &PathError{Op: "reading", Path: e.display(), Err: ErrFileChanged,
				Detail: "it reports size 0 but has bytes: a /proc or /sys file, or one written after the tree was listed",
				Hint:   "pack a regular copy of it, or run the build again when nothing is writing to the tree"}
		}
	}
	// One fstat after the bytes were read checks the file against what the
	// walk saw: a file replaced or modified after the listing, before or
	// while it was read, has another inode, size or time by now (a stat
	// before the read, or a read to check for EOF, would add nothing but
	// system calls: two per file).
	id, err := f.identity()
	if err != nil {
		return &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
	}
	switch {
	case n != e.size || id.size != e.size:
		size := id.size
		if n != e.size {
			size = n
		}
		verb := "grew"
		if size < e.size {
			verb = "shrank"
		}
		return changed(fmt.Sprintf("it %s from %d to %d bytes after the tree was listed", verb, e.size, size))
	case !id.same(e.id) || strict && id.ctime != e.id.ctime:
		return changed("it was replaced or modified after the tree was listed")
	}
	return nil
}

// testHookAfterCopy lets tests change a file between reading its bytes and
// the final checks.
var testHookAfterCopy func(path string)

// ctxReader stops a long copy when the context is cancelled, and counts
// what it reads when read is set.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	read func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n > 0 && c.read != nil {
		c.read(int64(n))
	}
	return n, err
}
