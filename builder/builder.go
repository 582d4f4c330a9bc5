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
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
	// Compression is the one used (what Auto decided).
	Compression Compression

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
	w.prepareSkips(o.skipPaths)
	if err := w.walk(rootInfo); err != nil {
		return nil, err
	}
	if w.files == 0 && !o.allowEmpty {
		return nil, badPath("packing", dir, ErrEmpty, "after .git, "+IgnoreFile+" and --exclude patterns are applied",
			"add files, or pass --allow-empty to build an image without files")
	}

	entries := w.entries
	if o.prefix != "" {
		for i := range entries {
			entries[i].name = o.prefix + "/" + entries[i].name
		}
		parts := strings.Split(o.prefix, "/")
		for i := range parts {
			entries = append(entries, entry{name: strings.Join(parts[:i+1], "/"), kind: kindDir, mode: 0o755})
		}
	}
	// Bytewise order of full paths: parents sort before their children, and
	// the order depends on nothing but the names.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var gi gitInfo
	if o.useGit {
		gi, err = readGit(root)
		if err != nil {
			return nil, fmt.Errorf("reading git metadata for %q: %w", dir, err)
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
	res.workDir = o.workDir
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

	comp := o.compression
	if comp == Auto {
		if comp, err = decideAuto(entries, w.fileSize); err != nil {
			return nil, err
		}
	}
	res.Compression = comp
	layer, err := writeLayer(ctx, res.workDir, entries, comp, created)
	if err != nil {
		return nil, err
	}
	res.Layers = []*Layer{layer}

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
