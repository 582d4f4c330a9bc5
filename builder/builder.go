// Package builder turns a directory into a deterministic OCI image: the
// digest depends only on the files (names, bytes, exec bits, links) and the
// options, never on mtimes, umask, owners, creation order, time zone, locale
// or the machine.
//
// The builder prints nothing, imports no CLI or signing code, and writes
// layer blobs only into its work directory; publishing the result (OCI
// layout, archive, registry) is the job of package publish.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Well-known annotation keys set by the builder.
const (
	AnnotationCreated  = "org.opencontainers.image.created"
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
)

// Result is a built image. Call Close to remove its layer files once it has
// been written or pushed.
type Result struct {
	// Image is the image when one platform was requested, else nil.
	Image v1.Image
	// Index is the image index when several platforms were requested, else nil.
	Index v1.ImageIndex

	Digest    v1.Hash         // digest of the manifest (or index)
	MediaType types.MediaType // manifest or index media type
	Size      int64           // size of the manifest (or index)
	Platforms []v1.Platform
	Layers    []*Layer
	// Files counts regular files and symlinks; FileBytes adds up file sizes.
	Files     int
	FileBytes int64
	// Created is the one timestamp used for every entry and the config.
	Created     time.Time
	Annotations map[string]string
	// Prefix is where the files sit inside the image ("" for the root).
	Prefix string
	// Compression is the one used by every layer (what Auto decided), or
	// Auto when layers differ (see Layer.Compression).
	Compression Compression
	// CacheError is the first failure to record a layer in the build cache
	// (WithCache), such as a directory that is not writable. The build
	// itself succeeded, but the next one will read every file again.
	CacheError error

	workDir    string
	ownWorkDir bool
}

// Artifact returns Image or Index, whichever is set.
func (r *Result) Artifact() partial.Describable {
	if r.Index != nil {
		return r.Index
	}
	return r.Image
}

// Close removes the layer files written by Build (and the work directory when
// Build created it).
func (r *Result) Close() error {
	var errs []error
	if r.ownWorkDir {
		return os.RemoveAll(r.workDir)
	}
	for _, l := range r.Layers {
		if l == nil || l.path == "" {
			continue
		}
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Build packs dir into an image. See the Option functions for defaults.
func Build(ctx context.Context, dir string, opts ...Option) (_ *Result, err error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return nil, &inputError{msg: "no source directory given", err: ErrNotExist}
	}
	rootInfo, err := os.Stat(dir)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, badPath("reading", dir, ErrNotExist, "", "check the path: it must name the directory to pack")
		case errors.Is(err, fs.ErrPermission):
			return nil, badPath("reading", dir, ErrUnreadable, "", "make it readable")
		}
		return nil, &PathError{Op: "reading", Path: dir, Err: unwrapPathError(err)}
	}
	if !rootInfo.IsDir() {
		return nil, badPath("reading", dir, ErrNotDirectory, "", "assetpack packs a directory: pass the folder that holds the file")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", dir, err)
	}
	ig, err := newIgnorer(root, dir, o.excludes)
	if err != nil {
		return nil, err
	}
	w := &walker{root: root, display: dir, o: &o, ig: ig}
	w.prepareSkips(o.hooks.SkipPaths)
	if err := w.walk(rootInfo); err != nil {
		return nil, err
	}
	if w.files == 0 && !o.allowEmpty {
		return nil, badPathOption("packing", dir, ErrEmpty, "after .git, "+IgnoreFile+" and exclude patterns are applied",
			"add files, or allow an image without files with WithAllowEmpty(true)", "WithAllowEmpty")
	}

	entries := w.entries
	if o.prefix != "" {
		for _, e := range entries {
			e.name = o.prefix + "/" + e.name
		}
		w.t.cut = len(o.prefix) + 1
		parts := strings.Split(o.prefix, "/")
		for i := range parts {
			entries = append(entries, &entry{name: strings.Join(parts[:i+1], "/"), kind: kindDir, mode: 0o755})
		}
	}
	// Bytewise order of full paths: parents sort before their children, and
	// the order depends on nothing but the names.
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.name, b.name) })

	var gi gitInfo
	if o.useGit {
		gi, err = readGit(root)
		if err != nil {
			return nil, badPathOption("reading git metadata of", dir, ErrGitMetadata, err.Error(),
				"fix the repository, or build without git metadata (WithGit(false))", "WithGit")
		}
	}
	created := unixEpoch()
	switch {
	case o.epoch != nil:
		created = *o.epoch
	case gi.found:
		created = time.Unix(gi.commitTime.Unix(), 0).UTC()
		if created.Unix() < 0 || created.Unix() > maxEpoch {
			created = unixEpoch()
		}
	}

	res := &Result{Files: w.files, FileBytes: w.fileSize, Created: created, Prefix: o.prefix, Platforms: o.platforms}
	res.workDir = o.hooks.WorkDir
	if res.workDir == "" {
		res.workDir, err = os.MkdirTemp("", "assetpack-build-*")
		if err != nil {
			return nil, fmt.Errorf("creating a work directory: %w", err)
		}
		res.ownWorkDir = true
	}
	defer func() {
		if err != nil {
			res.Close()
		}
	}()

	var cache *layerCache
	if o.cacheDir != "" {
		cache = &layerCache{dir: o.cacheDir}
	}
	// The plan, and the limits it must keep to, are checked before any
	// layer is encoded (so before anything is uploaded).
	if err = checkFileSizes(entries, o.limits, o.compression); err != nil {
		return nil, err
	}
	var plan []layerInput
	if o.layers == LayersModel {
		plan, err = planModel(entries, o.limits)
	} else {
		plan, err = planLayers(entries, o.layers, o.limits)
	}
	if err != nil {
		return nil, err
	}
	res.Layers, err = buildLayers(ctx, res.workDir, plan, &o, cache, created, w.files)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		res.CacheError = cache.err
		cache.trim(time.Now())
	}
	res.Compression = res.Layers[0].compression
	for _, l := range res.Layers[1:] {
		if l.compression != res.Compression {
			res.Compression = Auto // mixed: see each layer's Compression
		}
	}

	ann := map[string]string{AnnotationCreated: created.Format(time.RFC3339)}
	if gi.source != "" {
		ann[AnnotationSource] = gi.source
	}
	if gi.revision != "" {
		ann[AnnotationRevision] = gi.revision
	}
	for k, v := range o.annotations {
		ann[k] = v
	}
	res.Annotations = ann

	var imgs []*image
	for _, p := range o.platforms {
		img, err := makeImage(p, created, o.labels, ann, res.Layers)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 1 {
		res.Image = imgs[0]
		res.MediaType = types.OCIManifestSchema1
		res.Size = int64(len(imgs[0].manifest))
		res.Digest, err = res.Image.Digest()
		return res, err
	}
	idx, err := makeIndex(o.platforms, imgs, ann)
	if err != nil {
		return nil, err
	}
	res.Index = idx
	res.MediaType = types.OCIImageIndex
	res.Size = int64(len(idx.raw))
	res.Digest, err = idx.Digest()
	return res, err
}

func unixEpoch() time.Time { return time.Unix(0, 0).UTC() }

// buildLayers encodes the planned layers, up to jobs at a time, largest
// first. Each layer's bytes depend only on its entries, so neither the job
// count nor the scheduling can change a digest.
func buildLayers(ctx context.Context, workDir string, plan []layerInput, o *options, cache *layerCache, mtime time.Time, files int) ([]*Layer, error) {
	now := time.Now()
	if cache != nil && o.hooks.Deferred {
		cache.lookContent(mtime)
	}
	sizes := make([]int64, len(plan))
	order := make([]int, len(plan))
	for i := range plan {
		order[i] = i
		sizes[i] = plan[i].bytes()
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	pr := newProgress(o.progress, files, sizes)
	jobs := o.jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	out := make([]*Layer, len(plan))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, i := range order {
		g.Go(func() error {
			l, err := buildLayer(gctx, workDir, &plan[i], sizes[i], o, mtime, cache, now, pr.reader(i))
			out[i] = l
			if err == nil {
				pr.done(i)
				if o.hooks.LayerDone != nil {
					o.hooks.LayerDone(l)
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		for _, l := range out {
			if l != nil && l.path != "" {
				os.Remove(l.path)
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return out, nil
}

// read, when set, counts the bytes of files read by the pass that encodes
// the layer (not those of a cache lookup).
func buildLayer(ctx context.Context, workDir string, in *layerInput, bytes int64, o *options, mtime time.Time, cache *layerCache, now time.Time, read func(int64)) (*Layer, error) {
	comp := o.compression
	var record string // the identity record's path, when the files allow one
	if cache != nil {
		if key, ok := cache.key(in, comp, mtime, now); ok {
			record = cache.path(key)
		}
	}
	if record != "" {
		if s, c, ok := cache.get(record); ok {
			l := newLayer(s, c, in, mtime)
			l.cached = true
			l.onStale = func() { cache.drop(record) }
			if o.hooks.Deferred {
				return l, nil
			}
			// A stored layer is needed: link the previous output's blob, else
			// encode it again below (as cheap as deferring it would be).
			if linkReused(o.hooks.ReuseDir, workDir, l) {
				return l, nil
			}
		}
	}
	if comp == Auto {
		var err error
		if comp, err = decideAuto(in, bytes); err != nil {
			return nil, err
		}
	}
	// Only pushing, a compressed layer whose files are not known by
	// identity (a fresh checkout: new inodes and change times) may still
	// hold content built before, if a layer was ever recorded with this
	// timestamp. Hashing its tar costs a read and a sha256 pass, a fraction
	// of compressing it; on a hit the blob is only made if the registry
	// lacks it (and checked against the record then), on a miss the files
	// are read once more, from the page cache, to compress.
	if cache != nil && o.hooks.Deferred && comp != None && cache.hasContent(comp) {
		l, err := cachedByContent(ctx, cache, in, comp, mtime)
		if err != nil {
			return nil, err
		}
		if l != nil {
			if record != "" {
				cache.put(record, l)
				content := cache.contentPath(comp, mtime, l.diffID)
				l.onStale = func() { cache.drop(record, content) }
			}
			return l, nil
		}
	}
	var l *Layer
	if o.hooks.Deferred && comp == None {
		l = newLayer(layerSums{}, comp, in, mtime)
		// A sample of the files may predict the digest (see samplePath):
		// only worth reading when something will start uploading early.
		var sample string
		if cache != nil && o.hooks.LayerStart != nil {
			if p, ok := cache.samplePath(in, mtime); ok {
				sample = p
				if s, c, ok := cache.get(p); ok && c == None {
					l.predicted = s.digest
				}
			}
		}
		if o.hooks.LayerStart != nil {
			o.hooks.LayerStart(l, func() io.ReadCloser { return streamLayer(in, comp, mtime, false, nil) })
		}
		s, err := encode(ctx, io.Discard, in, comp, mtime, true, read)
		if err != nil {
			return nil, err
		}
		l.digest, l.diffID, l.size, l.uncompSize = s.digest, s.diffID, s.size, s.uncompSize
		if sample != "" && l.predicted != l.digest {
			cache.put(sample, l)
		}
	} else {
		// Pushing only, a compressed layer may start uploading while it is
		// compressed: the uploader follows its file as it is written.
		var follow *followedFile
		if o.hooks.Deferred && o.hooks.LayerStart != nil && canFollow {
			follow = newFollowedFile()
			l = newLayer(layerSums{}, comp, in, mtime)
			o.hooks.LayerStart(l, follow.open)
		}
		w, err := writeLayer(ctx, workDir, in, comp, mtime, read, follow)
		if err != nil {
			return nil, err
		}
		if l == nil {
			l = w
		} else {
			l.digest, l.diffID, l.size, l.uncompSize, l.path = w.digest, w.diffID, w.size, w.uncompSize, w.path
		}
	}
	if record != "" {
		cache.put(record, l)
		l.onStale = func() { cache.drop(record) }
	}
	if cache != nil && comp != None {
		cache.put(cache.contentPath(comp, mtime, l.diffID), l)
	}
	return l, nil
}

// cachedByContent hashes in's tar and returns the layer recorded for that
// content and compression, or nil when there is none.
func cachedByContent(ctx context.Context, cache *layerCache, in *layerInput, comp Compression, mtime time.Time) (*Layer, error) {
	if testHookContentLookup != nil {
		testHookContentLookup()
	}
	tar, err := encodeLayer(ctx, io.Discard, in, None, mtime) // uncompressed: its digest is the diffID
	if err != nil {
		return nil, err
	}
	p := cache.contentPath(comp, mtime, tar.digest)
	s, c, ok := cache.get(p)
	if !ok || c != comp || s.diffID != tar.digest || s.uncompSize != tar.size {
		return nil, nil
	}
	l := newLayer(s, c, in, mtime)
	l.cached = true
	l.onStale = func() { cache.drop(p) }
	return l, nil
}

// testHookContentLookup lets tests count lookups by content.
var testHookContentLookup func()

// linkReused hard-links l's blob from dir into workDir when it is there with
// the right size, and sets l.path.
func linkReused(dir, workDir string, l *Layer) bool {
	if dir == "" {
		return false
	}
	src := filepath.Join(dir, l.digest.Hex)
	if st, err := os.Stat(src); err != nil || !st.Mode().IsRegular() || st.Size() != l.size {
		return false
	}
	dst := filepath.Join(workDir, "sha256-"+l.digest.Hex)
	if err := os.Link(src, dst); err != nil {
		return false
	}
	l.path = dst
	return true
}
