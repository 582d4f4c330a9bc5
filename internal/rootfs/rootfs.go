// Package rootfs lists the file tree that an image's layers make when a
// runtime applies them in order: later layers replace earlier entries,
// whiteouts (".wh.name") and opaque markers (".wh..wh..opq") delete what
// earlier layers put there, and hard links show the file they link to.
// Layers are read as tar streams and hashed on the way; nothing is
// unpacked to disk here.
//
// It is what the SBOMs (package attest) and inspect's file lists are made
// from, and what package unpack writes to disk (through Options.Visit,
// which sees each entry's bytes as they stream).
package rootfs

import (
	"archive/tar"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrHardLink: a hard link names something that is not a regular file of
// its layer or an earlier one (a later entry, a directory, nothing).
var ErrHardLink = errors.New("is not a regular file of this layer or an earlier one")

// Type is the kind of an entry.
type Type string

// Entry types. Devices, FIFOs and sockets are not listed.
const (
	Dir     Type = "dir"
	File    Type = "file" // a regular file or a hard link to one
	Symlink Type = "symlink"
)

// Entry is one path of the tree.
type Entry struct {
	// Path is slash-separated and relative to the image root, without a
	// leading "./" or "/" and without a trailing slash.
	Path string
	Type Type
	// Mode holds the permission, setuid, setgid and sticky bits (0o7777).
	Mode int64
	// Size, SHA256 and SHA1 (hex) describe a File's content. SHA1 is set
	// only when Options.SHA1 asks for it.
	Size   int64
	SHA256 string
	SHA1   string
	// Target is where a Symlink points, as stored in the layer.
	Target string
	// HardLink is, for a File stored as a hard link, the path it links to.
	HardLink string
	// Layer is the index in the image's layers of the layer that holds the
	// entry as listed.
	Layer int
	// ModTime is the modification time in the entry's tar header; a File
	// stored as a hard link has the time of the file it links to (they are
	// one inode).
	ModTime time.Time
	// Content is, for a File, where its bytes are: the position of the
	// regular-file header that carried them, its own or, for a hard link,
	// that of the file it links to (followed through links). Files with the
	// same Content are one inode.
	Content Pos
}

// Pos locates a tar header in an image: the index of its layer and the
// header's position in that layer's tar, counting every header from 0.
type Pos struct {
	Layer, Index int
}

// Options adjust Read.
type Options struct {
	// SHA1 also computes each file's SHA-1 (SPDX 2.3 requires it), at
	// about the cost of the SHA-256 again.
	SHA1 bool
	// Visit, when set, is called with every header of every layer, in
	// order, before the entry is interpreted (whiteouts, devices and the
	// root included, with the name as stored). For a regular file r yields
	// its bytes, which are hashed as Visit reads them (what it leaves
	// unread is hashed after it returns); for anything else r is nil. An
	// error from Visit stops Read and is returned, wrapped with the layer.
	Visit func(at Pos, h *tar.Header, r io.Reader) error
}

// Image lists the tree of img's layers; see Read.
func Image(img v1.Image, o Options) ([]Entry, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing the layers: %w", err)
	}
	return Read(layers, o)
}

// Read applies layers in order, as a runtime would, and returns the
// resulting entries sorted bytewise by path. Directories are listed too.
func Read(layers []v1.Layer, o Options) ([]Entry, error) {
	tree := map[string]*Entry{}
	for i, l := range layers {
		if err := apply(tree, l, i, o); err != nil {
			if d, derr := l.Digest(); derr == nil {
				return nil, fmt.Errorf("reading layer %d (%s): %w", i+1, d, err)
			}
			return nil, fmt.Errorf("reading layer %d: %w", i+1, err)
		}
	}
	out := make([]Entry, 0, len(tree))
	for _, e := range tree {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// layer is what one layer says, before it is applied to the tree below.
type layer struct {
	entries   map[string]*Entry
	whiteouts map[string]bool // paths deleted from the layers below
	opaque    map[string]bool // directories whose contents below are deleted
}

func apply(tree map[string]*Entry, l v1.Layer, index int, o Options) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer func() {
		// Read to the end and close, so that a reader that checks the
		// layer's digests (at EOF or on Close) has seen every byte: the
		// tar reader stops at the end-of-archive marker, before any padding.
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
		}
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}()
	up := layer{entries: map[string]*Entry{}, whiteouts: map[string]bool{}, opaque: map[string]bool{}}
	tr := tar.NewReader(rc)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		at := Pos{Layer: index, Index: n}
		if o.Visit != nil && h.Typeflag != tar.TypeReg {
			if err := o.Visit(at, h, nil); err != nil {
				return err
			}
		}
		p := clean(h.Name)
		if p == "" {
			if h.Typeflag == tar.TypeReg {
				if err := drain(at, h, tr, o); err != nil {
					return err
				}
			}
			continue // the root itself
		}
		dir, base := path.Split(p)
		if name, ok := strings.CutPrefix(base, ".wh."); ok {
			if h.Typeflag == tar.TypeReg {
				if err := drain(at, h, tr, o); err != nil {
					return err
				}
			}
			switch {
			case name == ".wh..opq":
				up.opaque[strings.TrimSuffix(dir, "/")] = true
			case strings.HasPrefix(name, ".wh."):
				// Other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not files.
			default:
				up.whiteouts[dir+name] = true
			}
			continue
		}
		e := &Entry{Path: p, Mode: h.Mode & 0o7777, Layer: index, ModTime: h.ModTime}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Type = Dir
		case tar.TypeSymlink:
			e.Type, e.Target = Symlink, h.Linkname
		case tar.TypeReg:
			e.Type, e.Content = File, at
			if err := sum(e, at, h, tr, o); err != nil {
				return err
			}
		case tar.TypeLink:
			target := clean(h.Linkname)
			t, ok := up.entries[target]
			if !ok && !up.whiteouts[target] {
				t, ok = tree[target]
			}
			if !ok || t.Type != File {
				return fmt.Errorf("hard link %q: its target %q %w", h.Name, h.Linkname, ErrHardLink)
			}
			e.Type, e.Mode, e.Size, e.SHA256, e.SHA1 = File, t.Mode, t.Size, t.SHA256, t.SHA1
			e.ModTime, e.Content = t.ModTime, t.Content
			e.HardLink = target
		default:
			continue // devices, FIFOs: nothing a volume reader sees as data
		}
		up.entries[p] = e
	}
	merge(tree, &up)
	return nil
}

// merge applies one layer to the tree of the layers below it, the way
// overlay file systems stack them: an entry of the layer replaces the one
// below; a directory over a directory keeps the children below.
func merge(tree map[string]*Entry, up *layer) {
	scan := len(up.whiteouts) > 0 || len(up.opaque) > 0
	for p, e := range up.entries {
		if e.Type != Dir {
			if below, ok := tree[p]; ok && below.Type == Dir {
				scan = true // a file over a directory hides its children
			}
		}
		// A directory over a lower non-directory (a/b/c over the file
		// a/b) replaces it, as in overlayfs.
		for q := parent(p); q != ""; q = parent(q) {
			if below, ok := tree[q]; ok && below.Type != Dir {
				if _, ok := up.entries[q]; !ok {
					delete(tree, q)
				}
			}
		}
	}
	if scan {
		for p := range tree {
			if hidden(p, up) {
				delete(tree, p)
			}
		}
	}
	for p, e := range up.entries {
		tree[p] = e
	}
}

// hidden reports whether the layer up removes the lower entry p: a whiteout
// of p or of a parent, an opaque parent, or a parent that up replaces with
// something other than a directory.
func hidden(p string, up *layer) bool {
	if up.whiteouts[p] {
		return true
	}
	for q := parent(p); ; q = parent(q) {
		if up.whiteouts[q] || up.opaque[q] {
			return true
		}
		if e, ok := up.entries[q]; ok && e.Type != Dir {
			return true
		}
		if q == "" {
			return false
		}
	}
}

// parent is the directory of p: "" for a path at the root.
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// sum hashes a regular file's bytes into e, through Visit when it is set.
func sum(e *Entry, at Pos, h *tar.Header, r io.Reader, o Options) error {
	s256 := sha256.New()
	var w io.Writer = s256
	var s1 hash.Hash
	if o.SHA1 {
		s1 = sha1.New()
		w = io.MultiWriter(s256, s1)
	}
	cw := &countWriter{w: w}
	if o.Visit != nil {
		if err := o.Visit(at, h, io.TeeReader(r, cw)); err != nil {
			return err // Visit's own words
		}
	}
	if _, err := io.Copy(cw, r); err != nil {
		return fmt.Errorf("reading %q: %w", h.Name, err)
	}
	e.Size, e.SHA256 = cw.n, hex.EncodeToString(s256.Sum(nil))
	if s1 != nil {
		e.SHA1 = hex.EncodeToString(s1.Sum(nil))
	}
	return nil
}

// drain shows Visit a regular file that is not part of the tree (a
// whiteout marker with bytes, or the root as a file).
func drain(at Pos, h *tar.Header, r io.Reader, o Options) error {
	if o.Visit == nil {
		return nil
	}
	return o.Visit(at, h, r)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// clean turns a tar name into a path relative to the root, the way a
// runtime resolves it: "./a/", "/a" and "a/../a" all name "a", and ".."
// cannot climb above the root.
func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
