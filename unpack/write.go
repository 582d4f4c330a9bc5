package unpack

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// writeDir creates the tree as the directory base inside the staging
// root. Every path it touches is one that plan checked: its parents are
// directories created here, never symlinks, and os.Root keeps every
// operation inside the staging directory whatever happens.
func writeDir(ctx context.Context, root *os.Root, base string, t *tree) error {
	at := func(p string) string { return base + "/" + p }
	if err := root.Mkdir(base, 0o700); err != nil {
		return err
	}
	// Directories first, parents before children, writable until the end.
	dirs := slices.Clone(t.implicit)
	modes := map[string]*node{}
	for i := range t.nodes {
		if n := &t.nodes[i]; n.typ == rootfs.Dir {
			dirs = append(dirs, n.path)
			modes[n.path] = n
		}
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := root.Mkdir(at(d), 0o700); err != nil {
			return err
		}
	}
	for _, n := range t.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := at(n.path)
		var err error
		switch {
		case n.typ == rootfs.File && n.link != "":
			err = root.Link(at(n.link), name) // its first path got the mode and time
		case n.typ == rootfs.File:
			if err = root.Rename(n.blob, name); err == nil {
				err = root.Chmod(name, n.mode)
			}
			if err == nil {
				err = root.Chtimes(name, n.mtime, n.mtime)
			}
		case n.typ == rootfs.Symlink:
			if err = root.Symlink(n.target, name); err == nil {
				err = lchtimes(root, name, n.mtime)
			}
		}
		if err != nil {
			return fmt.Errorf("writing %q: %w", n.path, err)
		}
	}
	// Then the directories' modes and times, children first: writing into
	// a directory changes its time, and its mode may forbid writing.
	for i := len(dirs) - 1; i >= 0; i-- {
		name := at(dirs[i])
		n, explicit := modes[dirs[i]]
		var err error
		if !explicit {
			err = root.Chmod(name, 0o755)
		} else if err = root.Chmod(name, n.mode); err == nil {
			err = root.Chtimes(name, n.mtime, n.mtime)
		}
		if err != nil {
			return fmt.Errorf("writing %q: %w", dirs[i], err)
		}
	}
	mode := fs.FileMode(0o755)
	if t.root != nil {
		mode = fs.FileMode(t.root.Mode & 0o777)
		if err := root.Chtimes(base, t.root.ModTime, t.root.ModTime); err != nil {
			return err
		}
	}
	return root.Chmod(base, mode)
}

// writeTar writes the tree as one tar file, name, inside the staging root.
func writeTar(ctx context.Context, root *os.Root, name string, t *tree) (err error) {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	for _, n := range t.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &tar.Header{Name: n.path, Mode: int64(n.mode), ModTime: n.mtime, Format: tar.FormatPAX}
		switch {
		case n.typ == rootfs.Dir:
			h.Typeflag, h.Name = tar.TypeDir, n.path+"/"
		case n.typ == rootfs.Symlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, n.target
		case n.link != "":
			h.Typeflag, h.Linkname = tar.TypeLink, n.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, n.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing %q: %w", n.path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyBlob(ctx, tw, root, n); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func copyBlob(ctx context.Context, w io.Writer, root *os.Root, n node) error {
	b, err := root.Open(n.blob)
	if err != nil {
		return fmt.Errorf("writing %q: %w", n.path, err)
	}
	defer b.Close()
	if _, err := io.Copy(w, &ctxReader{ctx: ctx, r: b}); err != nil {
		return fmt.Errorf("writing %q: %w", n.path, err)
	}
	return nil
}
