package builder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheVersion is part of every key: bump it when the layer encoding changes.
const cacheVersion = "assetpack-layer-cache-v1"

// racyWindow: files whose change time is this recent are not cached, since
// a second write within the file system's clock granularity could keep the
// same identity.
var racyWindow = 2 * time.Second

type cacheRecord struct {
	Digest           string      `json:"digest"`
	DiffID           string      `json:"diffID"`
	Size             int64       `json:"size"`
	UncompressedSize int64       `json:"uncompressedSize"`
	Compression      Compression `json:"compression"`
}

// errStop ends a walk over a layer's entries early.
var errStop = errors.New("stop")

// layerCache maps the identity of a layer's inputs (path) or its content
// (contentPath) to its sums.
type layerCache struct {
	dir     string
	errOnce sync.Once
	err     error // the first failure to record a layer

	content map[Compression]bool // see lookContent
}

// failed keeps the first error of put: a cache that cannot be written
// costs every later build a full read, which the user should hear about.
func (c *layerCache) failed(err error) {
	c.errOnce.Do(func() { c.err = fmt.Errorf("writing the build cache in %q: %w", c.dir, unwrapPathError(err)) })
}

// key hashes the layer's options and the identity of every entry. ok is
// false when some file's identity is unknown or too recent to trust.
func (c *layerCache) key(in *layerInput, comp Compression, mtime time.Time, now time.Time) (string, bool) {
	// The fields are appended to a buffer that is hashed 32 KiB at a time:
	// one hash.Write per field (tens of thousands for a site) and a string
	// conversion per name cost more than the hashing itself.
	h := sha256.New()
	buf := make([]byte, 0, 32<<10+4096)
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	putInt := func(v int64) { buf = binary.LittleEndian.AppendUint64(buf, uint64(v)) }
	putStr := func(s string) {
		putInt(int64(len(s)))
		if len(buf)+len(s) > cap(buf) {
			flush()
		}
		if len(s) > cap(buf) {
			h.Write([]byte(s))
			return
		}
		buf = append(buf, s...)
	}
	putStr(cacheVersion)
	putStr(string(comp))
	putInt(mtime.Unix())
	ok := true
	in.each(func(e *entry) error {
		if len(buf) >= 32<<10 {
			flush()
		}
		putStr(e.name)
		putInt(int64(e.kind))
		putInt(int64(e.mode))
		putInt(e.size)
		putStr(e.linkname)
		if e.kind != kindFile {
			return nil
		}
		id := e.id
		if !id.full || now.Sub(time.Unix(0, id.ctime)) < racyWindow || now.Sub(time.Unix(0, id.mtime)) < racyWindow {
			ok = false
			return errStop
		}
		// putStr(e.src()) without making the string: the length is
		// written once the path is in place.
		at := len(buf)
		putInt(0)
		buf = e.appendSrc(buf)
		binary.LittleEndian.PutUint64(buf[at:], uint64(len(buf)-at-8))
		putInt(int64(id.dev))
		putInt(int64(id.ino))
		putInt(id.size)
		putInt(id.mtime)
		putInt(id.ctime)
		return nil
	})
	if !ok {
		return "", false
	}
	flush()
	return hex.EncodeToString(h.Sum(nil)), true
}

// path is where the record of an identity key is kept.
func (c *layerCache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// contentDir holds the records keyed by content (see contentPath).
const contentDir = "content"

// contentPath is where the record of a layer with this content is kept: a
// key made of the digest of its uncompressed tar (its diffID) and the
// compression. Encoding is deterministic, so the two decide the blob; unlike
// an identity key, this one survives a fresh checkout of unchanged files
// (new inodes and change times), where it saves compressing them again.
// Records are grouped by compression and timestamp (see contentGroup).
func (c *layerCache) contentPath(comp Compression, mtime time.Time, diffID v1.Hash) string {
	sum := sha256.Sum256([]byte(cacheVersion + "\x00content\x00" + string(comp) + "\x00" + diffID.String()))
	key := hex.EncodeToString(sum[:])
	return filepath.Join(c.contentGroup(comp, mtime), key[:2], key)
}

// contentGroup is the directory of the content records of one compression
// and timestamp. Every entry's timestamp is in the tar, so a build with a
// timestamp never seen before (a new git commit's time) cannot find its
// layers by content, and skips hashing them to look.
func (c *layerCache) contentGroup(comp Compression, mtime time.Time) string {
	return filepath.Join(c.dir, contentDir, fmt.Sprintf("%s-%d", comp, mtime.Unix()))
}

// lookContent notes, before any layer is built, which compressions have
// content records with this timestamp; the layers recorded by this build
// must not count.
func (c *layerCache) lookContent(mtime time.Time) {
	c.content = map[Compression]bool{}
	for _, comp := range []Compression{Gzip, Zstd, ZstdBetter, ZstdBest} {
		fi, err := os.Stat(c.contentGroup(comp, mtime))
		c.content[comp] = err == nil && fi.IsDir()
	}
}

// hasContent reports whether any layer of this compression and the build's
// timestamp was recorded by content before the build (see lookContent).
func (c *layerCache) hasContent(comp Compression) bool { return c.content[comp] }

// get reads the record at p (from path or contentPath).
func (c *layerCache) get(p string) (layerSums, Compression, bool) {
	f, err := os.Open(p)
	if err != nil {
		return layerSums{}, "", false
	}
	fi, err := f.Stat()
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(f, 64<<10))
	}
	f.Close()
	if err != nil {
		return layerSums{}, "", false
	}
	var r cacheRecord
	if json.Unmarshal(raw, &r) != nil {
		return layerSums{}, "", false
	}
	d, err1 := v1.NewHash(r.Digest)
	diff, err2 := v1.NewHash(r.DiffID)
	switch {
	case err1 != nil, err2 != nil, r.Size <= 0, r.UncompressedSize <= 0:
		return layerSums{}, "", false
	case r.Compression != Gzip && !r.Compression.isZstd() && r.Compression != None:
		return layerSums{}, "", false
	}
	// Mark the record used, for trim (at most once an hour, like Go's
	// build cache: one write per record a day at most).
	if now := time.Now(); now.Sub(fi.ModTime()) > touchAfter {
		os.Chtimes(p, now, now)
	}
	return layerSums{digest: d, diffID: diff, size: r.Size, uncompSize: r.UncompressedSize}, r.Compression, true
}

// Records not used for trimAge are removed, by a walk of the cache made at
// most once per trimEvery (trimFile keeps the time of the last one), as Go
// does with its build cache: with a new timestamp per git commit, every
// commit adds a record or two per layer.
const (
	trimAge    = 30 * 24 * time.Hour
	trimEvery  = 24 * time.Hour
	touchAfter = time.Hour
	trimFile   = "trim.txt"
)

// trim removes the records (and leftover temporary files) not used for
// trimAge, unless the cache was trimmed less than trimEvery ago.
func (c *layerCache) trim(now time.Time) {
	mark := filepath.Join(c.dir, trimFile)
	if b, err := os.ReadFile(mark); err == nil {
		if t, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && now.Sub(time.Unix(t, 0)) < trimEvery {
			return
		}
	}
	// The mark first: builds that end together do not all walk the cache.
	if os.WriteFile(mark, []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600) != nil {
		return
	}
	var dirs []string
	filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir():
			if p != c.dir {
				dirs = append(dirs, p)
			}
		case d.Type().IsRegular() && p != mark:
			if fi, err := d.Info(); err == nil && now.Sub(fi.ModTime()) > trimAge {
				os.Remove(p)
			}
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- { // children first; only empty ones go
		os.Remove(dirs[i])
	}
}

// put records a layer at p. A failure fails nothing but costs a cache miss
// later; the first one is kept in err.
func (c *layerCache) put(p string, l *Layer) {
	raw, _ := json.Marshal(cacheRecord{Digest: l.digest.String(), DiffID: l.diffID.String(), Size: l.size,
		UncompressedSize: l.uncompSize, Compression: l.compression})
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		c.failed(err)
		return
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if errors.Is(err, fs.ErrNotExist) { // emptied and removed by another build's trim
		if err = os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
			f, err = os.CreateTemp(filepath.Dir(p), ".tmp-*")
		}
	}
	if err != nil {
		c.failed(err)
		return
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		c.failed(err)
		os.Remove(f.Name())
	}
}

// drop removes the records at paths (ones that proved wrong).
func (c *layerCache) drop(paths ...string) {
	for _, p := range paths {
		os.Remove(p)
	}
}

// A sample record predicts the digest of an uncompressed layer that missed
// by identity (a fresh checkout of unchanged model shards, say) before the
// layer is hashed, so that an early upload can ask the registry first
// instead of sending bytes it probably has (see Layer.Predicted). The key
// covers every entry's header fields and sampleReads reads of sampleRead
// bytes spread evenly over the layer's file bytes, the first and the last
// included: a few hundred KiB read, where the layer may be gigabytes. Only
// the upload's schedule depends on it, never a digest: a wrong guess costs
// the overlap of hashing and uploading that layer, nothing else.
const (
	sampleDir   = "sample"
	sampleReads = 64
	sampleRead  = 4 << 10
)

// samplePath is where the sample record of in is kept; ok is false when
// the layer has no file bytes, or a file could not be read or is not the
// one the walk saw.
func (c *layerCache) samplePath(in *layerInput, mtime time.Time) (string, bool) {
	h := fieldHash{Hash: sha256.New()}
	h.str(cacheVersion)
	h.str(sampleDir)
	h.int(mtime.Unix())
	var files []*entry
	var total int64
	in.each(func(e *entry) error {
		h.str(e.name)
		h.int(int64(e.kind))
		h.int(int64(e.mode))
		h.int(e.size)
		h.str(e.linkname)
		if e.kind == kindFile && e.size > 0 {
			files = append(files, e)
			total += e.size
		}
		return nil
	})
	if total == 0 {
		return "", false
	}
	buf := make([]byte, sampleRead)
	var f interface { // *fileReader on Linux, fileReader elsewhere
		io.ReaderAt
		io.Closer
		identity() (fileID, error)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	open := -1     // the index in files of f
	var base int64 // the offset of files[i] in the layer's file bytes
	i := 0
	for k := range int64(sampleReads) {
		at := (total - 1) * k / (sampleReads - 1) // increasing, 0 to total-1
		for at >= base+files[i].size {
			base += files[i].size
			i++
		}
		e := files[i]
		if open != i {
			if f != nil {
				f.Close()
				f = nil
			}
			r, err := openFile(e.src())
			if err != nil {
				return "", false
			}
			f = r
			if id, err := f.identity(); err != nil || !id.same(e.id) {
				return "", false
			}
			open = i
		}
		// A read of sampleRead bytes that ends in the file at the latest.
		off := max(0, min(at-base, e.size-sampleRead))
		n := min(int64(sampleRead), e.size)
		if _, err := io.ReadFull(io.NewSectionReader(f, off, n), buf[:n]); err != nil {
			return "", false
		}
		h.int(int64(i))
		h.int(off)
		h.Write(buf[:n])
	}
	key := hex.EncodeToString(h.Sum(nil))
	return filepath.Join(c.dir, sampleDir, key[:2], key), true
}

// fieldHash hashes fields as the cache's keys do: an integer as 8 bytes,
// little-endian; a string as its length, then its bytes. (key buffers its
// writes: a site's tens of thousands of fields would cost more in calls
// than in hashing; a sample has a few hundred.)
type fieldHash struct {
	hash.Hash
	num [8]byte
}

func (f *fieldHash) int(v int64) {
	binary.LittleEndian.PutUint64(f.num[:], uint64(v))
	f.Write(f.num[:])
}

func (f *fieldHash) str(s string) {
	f.int(int64(len(s)))
	io.WriteString(f, s)
}
