package unpack

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// blobDir holds, inside the staging directory, the bytes of every regular
// file of every layer, named by position, until the tree they end up in is
// known.
const blobDir = "blobs"

func blobName(at rootfs.Pos) string { return fmt.Sprintf("%s/%d-%d", blobDir, at.Layer, at.Index) }

// reader applies an image's layers (package rootfs) and stages the bytes
// of their regular files in a staging directory as they stream.
type reader struct {
	ctx   context.Context
	o     *options
	stage *os.Root
	// root is the metadata of the image's root directory ("./"), if a
	// layer has one.
	root    *rootfs.Entry
	owned   int // entries with an owner other than 0:0
	xattrs  int // entries with extended attributes
	skipped int // device nodes, FIFOs, unsupported types
}

// read verifies and applies img's layers; it returns the final tree.
func (r *reader) read(img v1.Image) ([]rootfs.Entry, error) {
	layers, err := verifiedLayers(img)
	if err != nil {
		return nil, err
	}
	if err := r.stage.Mkdir(blobDir, 0o700); err != nil {
		return nil, err
	}
	entries, err := rootfs.Read(layers, rootfs.Options{Visit: r.visit})
	if errors.Is(err, rootfs.ErrHardLink) {
		return nil, marked{err, ErrUnsafe}
	}
	if err != nil {
		return nil, err
	}
	if r.owned > 0 {
		r.o.note(fmt.Sprintf("%d entries name an owner other than root (0:0); owners are not applied: the files belong to you", r.owned))
	}
	if r.xattrs > 0 {
		r.o.note(fmt.Sprintf("%d entries carry extended attributes; they are not applied", r.xattrs))
	}
	return entries, nil
}

// visit checks the names of every header before rootfs interprets it, and
// stages the bytes of regular files.
func (r *reader) visit(at rootfs.Pos, h *tar.Header, body io.Reader) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if h.Uid != 0 || h.Gid != 0 {
		r.owned++
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			r.xattrs++
			break
		}
	}
	if isRoot(h.Name) {
		if h.Typeflag == tar.TypeDir { // its mode and time are the destination's
			r.root = &rootfs.Entry{Type: rootfs.Dir, Mode: h.Mode & 0o7777, ModTime: h.ModTime}
		}
		return nil
	}
	p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	kind := "entry"
	whiteout := strings.HasPrefix(path.Base(p), ".wh.")
	if whiteout {
		kind = "whiteout"
	}
	if err := checkName(kind, h.Name, h.Name); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeReg:
		if !whiteout {
			return r.stageBlob(at, h, body)
		}
	case tar.TypeLink:
		return checkName("hard link", h.Name, h.Linkname)
	case tar.TypeDir, tar.TypeSymlink, tar.TypeXGlobalHeader:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		r.skipped++
		r.o.note(fmt.Sprintf("skipped %q: a %s is not a file (device nodes and FIFOs are never created)", p, typeName(h.Typeflag)))
	default:
		r.skipped++
		r.o.note(fmt.Sprintf("skipped %q: tar entry type %q is not supported", p, h.Typeflag))
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	}
	return "FIFO"
}

// checkName refuses an entry name (or a hard link's target, which is a
// name of the same tree) that is absolute or has a ".." component: a
// runtime would resolve it inside the root, but such a name only comes
// from a hostile or broken layer, and refusing it says so.
func checkName(kind, entry, name string) error {
	what := "its name"
	if name != entry {
		what = fmt.Sprintf("its target %q", name)
	}
	if strings.HasPrefix(name, "/") {
		return unsafe(kind, entry, "%s is absolute (layers name paths inside the image root)", what)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return unsafe(kind, entry, "%s has a \"..\" component (layers name paths inside the image root)", what)
		}
	}
	if strings.ContainsRune(name, 0) {
		return unsafe(kind, entry, "%s has a NUL byte", what)
	}
	return nil
}

// stageBlob writes a regular file's bytes to blobs/LAYER-INDEX.
func (r *reader) stageBlob(at rootfs.Pos, h *tar.Header, body io.Reader) error {
	f, err := r.stage.OpenFile(blobName(at), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, &ctxReader{ctx: r.ctx, r: body})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading %q: %w", h.Name, err)
	}
	if n != h.Size {
		return fmt.Errorf("%w: %q has %d bytes, its header says %d", ErrInvalidImage, h.Name, n, h.Size)
	}
	return nil
}

// isRoot reports whether a tar name is the root itself: "./", "/", ".".
func isRoot(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part != "" && part != "." {
			return false
		}
	}
	return true
}

// ctxReader stops a long copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
