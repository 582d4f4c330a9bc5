package unpack

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// node is one path of the tree to write, relative to the destination.
type node struct {
	path   string
	typ    rootfs.Type
	mode   fs.FileMode // permission bits only: setuid, setgid and sticky are cleared
	mtime  time.Time
	target string // a symlink's target
	// For a file: blob is the staged bytes of the first path of its inode;
	// link is, for the others, that first path (they are hard links to it).
	blob, link string
	size       int64
}

// tree is what gets written.
type tree struct {
	nodes []node // sorted bytewise by path: parents before children
	// implicit lists the directories that no entry names but that entries
	// are in; they are created with mode 0755.
	implicit []string
	// root is the mode and time of the destination itself, if the image
	// says (its "./" entry, or the sub path's directory).
	root *rootfs.Entry
}

// plan turns the image's final entries into the tree to write, refusing
// what could write outside the destination.
func plan(entries []rootfs.Entry, root *rootfs.Entry, o *options) (*tree, error) {
	if o.subPath != "" {
		var err error
		if entries, root, err = subTree(entries, o.subPath); err != nil {
			return nil, err
		}
	}
	byPath := make(map[string]*rootfs.Entry, len(entries))
	for i := range entries {
		byPath[entries[i].Path] = &entries[i]
	}
	t := &tree{root: root}
	implicit := map[string]bool{}
	first := map[rootfs.Pos]string{} // the first path of each inode
	for _, e := range entries {
		for q := parent(e.Path); q != ""; q = parent(q) {
			a, ok := byPath[q]
			if !ok {
				implicit[q] = true
				continue
			}
			if a.Type != rootfs.Dir {
				return nil, unsafe("entry", e.Path, "it is below %q, a %s of layer %d: nothing is written through a %s", q, a.Type, a.Layer+1, a.Type)
			}
		}
		n := node{path: e.Path, typ: e.Type, mode: fs.FileMode(e.Mode & 0o777), mtime: e.ModTime}
		if bits := e.Mode & 0o7000; bits != 0 && e.Type != rootfs.Symlink {
			o.note(fmt.Sprintf("cleared the %s of %q (mode %04o is written as %04o)", specialBits(bits), e.Path, e.Mode, e.Mode&0o777))
		}
		switch e.Type {
		case rootfs.Symlink:
			if err := checkSymlink(byPath, e); err != nil {
				return nil, err
			}
			n.target = e.Target
		case rootfs.File:
			n.size = e.Size
			if p, ok := first[e.Content]; ok {
				n.link = p
			} else {
				first[e.Content] = e.Path
				n.blob = blobName(e.Content)
			}
		}
		t.nodes = append(t.nodes, n)
	}
	for p := range implicit {
		t.implicit = append(t.implicit, p)
	}
	slices.Sort(t.implicit)
	return t, nil
}

func specialBits(bits int64) string {
	var names []string
	for _, b := range []struct {
		bit  int64
		name string
	}{{0o4000, "setuid"}, {0o2000, "setgid"}, {0o1000, "sticky"}} {
		if bits&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	s := strings.Join(names, " and ") + " bit"
	if len(names) > 1 {
		s += "s"
	}
	return s
}

// subTree keeps the entries below sub, re-rooted there.
func subTree(entries []rootfs.Entry, sub string) ([]rootfs.Entry, *rootfs.Entry, error) {
	var (
		out  []rootfs.Entry
		root *rootfs.Entry
		top  []string
	)
	byPath := map[string]rootfs.Entry{}
	for _, e := range entries {
		byPath[e.Path] = e
	}
	for q := sub; q != ""; q = parent(q) {
		if e, ok := byPath[q]; ok && e.Type != rootfs.Dir {
			what := "is"
			if q != sub {
				what = fmt.Sprintf("is below %q, which is", q)
			}
			return nil, nil, optionError("sub path", sub, "%q %s a %s in the image, not a directory", sub, what, e.Type)
		}
	}
	for _, e := range entries {
		if e.Path == sub {
			root = &e
			continue
		}
		if rest, ok := strings.CutPrefix(e.Path, sub+"/"); ok {
			e.Path = rest
			out = append(out, e)
		} else if e.Type == rootfs.Dir && !strings.Contains(e.Path, "/") {
			top = append(top, e.Path+"/")
		}
	}
	if root == nil && len(out) == 0 {
		has := "it has no directories at its root"
		if len(top) > 0 {
			has = "its top-level directories are " + strings.Join(top, ", ")
		}
		return nil, nil, optionError("sub path", sub, "%q is not in the image; %s", sub, has)
	}
	return out, root, nil
}

// checkSymlink refuses a symlink that does not stay inside the
// destination when resolved there, as the kernel would, through the
// tree's other symlinks: on the machine that reads it, an absolute target
// or one that climbs above the destination names something else (in a
// Pod, something outside the volume).
func checkSymlink(byPath map[string]*rootfs.Entry, e rootfs.Entry) error {
	switch {
	case e.Target == "":
		return unsafe("symlink", e.Path, "its target is empty")
	case strings.HasPrefix(e.Target, "/"):
		return unsafe("symlink", e.Path, "its target %q is absolute, which points outside the destination", e.Target)
	case strings.ContainsRune(e.Target, 0):
		return unsafe("symlink", e.Path, "its target has a NUL byte")
	}
	if via, inside := resolve(byPath, e.Path); !inside {
		if via != "" && via != e.Path {
			return unsafe("symlink", e.Path, "its target %q leads outside the destination (through the symlink %q)", e.Target, via)
		}
		return unsafe("symlink", e.Path, "its target %q leads outside the destination", e.Target)
	}
	return nil
}

// maxHops is how many symlinks a resolution follows, as Linux's ELOOP limit.
const maxHops = 40

// resolve resolves the symlink at link inside the tree; inside is false when
// the resolution climbs above the root (via names the last symlink
// followed) or reaches an absolute target. A loop or a dangling link
// cannot leave the tree and is fine.
func resolve(byPath map[string]*rootfs.Entry, link string) (via string, inside bool) {
	var cur []string
	if p := parent(link); p != "" {
		cur = strings.Split(p, "/") // real directories: plan checked them
	}
	todo := strings.Split(byPath[link].Target, "/")
	via = link
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return via, false
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		e, isLink := byPath[next]
		if !isLink || e.Type != rootfs.Symlink {
			cur = append(cur, c)
			continue
		}
		if hops++; hops > maxHops {
			return "", true
		}
		if strings.HasPrefix(e.Target, "/") {
			return next, false
		}
		via = next
		todo = append(strings.Split(e.Target, "/"), todo...)
	}
	return "", true
}

// parent is the directory of p: "" for a path at the root.
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}
