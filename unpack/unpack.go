package unpack

import (
	"context"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// Result describes what was written.
type Result struct {
	// Digest is the digest of the image's manifest.
	Digest v1.Hash
	// Files counts regular files; HardLinks counts those of them that are
	// hard links to another (one inode, written once). Dirs counts the
	// directories the image names, Symlinks its symlinks.
	Files, HardLinks, Dirs, Symlinks int
	// Bytes adds up the sizes of the files written, each inode once.
	Bytes int64
}

// ToDir writes the file tree of img into dir, as a container runtime
// shows it: layers in order, whiteouts and opaque directories applied,
// with modes, symlinks, hard links, empty directories and modification
// times. Every blob is verified before the tree is written (see the
// package documentation); dir is replaced in one step at the end, so an
// error leaves it as it was. dir must be absent or an empty directory
// unless WithReplace; missing parents are created (and removed again if
// the unpack fails).
func ToDir(ctx context.Context, img v1.Image, dir string, opts ...Option) (*Result, error) {
	return run(ctx, img, dir, kindDir, opts)
}

// ToTar writes the same tree as ToDir into one tar file: entries in
// bytewise order of their paths (parents first), PAX format, the modes and
// modification times of the image, uid and gid 0 without names, a hard
// link for every further path of an inode; no entry for the root or for
// directories the image does not name. The same image always gives the
// same bytes. file must be absent or empty unless WithReplace.
func ToTar(ctx context.Context, img v1.Image, file string, opts ...Option) (*Result, error) {
	return run(ctx, img, file, kindTar, opts)
}

// CheckDir reports, without writing anything, whether ToDir with the same
// options would refuse dir as its destination (ErrExists), so that a
// caller can say so before it downloads an image. ToDir checks again.
func CheckDir(dir string, opts ...Option) error { return check(dir, kindDir, opts) }

// CheckTar is CheckDir for ToTar.
func CheckTar(file string, opts ...Option) error { return check(file, kindTar, opts) }

func check(dst string, k kind, opts []Option) error {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return err
		}
	}
	final, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("resolving %q: %w", dst, err)
	}
	return (&stage{display: dst, final: final, kind: k, replace: o.replace}).check()
}

func run(ctx context.Context, img v1.Image, dst string, k kind, opts []Option) (*Result, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	s, err := newStage(dst, k, o.replace)
	if err != nil {
		return nil, err
	}
	defer s.close(&o)
	r := &reader{ctx: ctx, o: &o, stage: s.root}
	entries, err := r.read(img)
	if err != nil {
		return nil, err
	}
	t, err := plan(entries, r.root, &o)
	if err != nil {
		return nil, err
	}
	if k == kindDir {
		err = writeDir(ctx, s.root, stagedName(k), t)
	} else {
		err = writeTar(ctx, s.root, stagedName(k), t)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.commit(); err != nil {
		return nil, err
	}
	res := t.result()
	res.Digest = d
	return res, nil
}

func (t *tree) result() *Result {
	r := &Result{}
	for _, n := range t.nodes {
		switch n.typ {
		case rootfs.Dir:
			r.Dirs++
		case rootfs.Symlink:
			r.Symlinks++
		case rootfs.File:
			r.Files++
			if n.link != "" {
				r.HardLinks++
			} else {
				r.Bytes += n.size
			}
		}
	}
	return r
}
