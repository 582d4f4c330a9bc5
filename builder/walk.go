package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
)

// entry is one tar entry, collected by the walk and written after sorting.
type entry struct {
	name     string // slash path inside the image, prefix included, no trailing slash
	kind     entryKind
	mode     int64
	size     int64
	linkname string
	rel      string // path relative to the source directory (shares name's bytes)
	t        *tree  // the source directory; nil for directories the prefix adds
	id       fileID // what the walk saw of a file; checked again when it is read
	own      bool   // a large file in a layer of its own (LayersAuto)
}

// tree is the source directory, shared by its entries: the OS path of an
// entry and the path shown in errors are derived from it when needed rather
// than stored for each of possibly a million files.
type tree struct {
	root    string // real (symlink-free) absolute path
	display string // as the user named it
}

// src is the OS path to read.
func (e *entry) src() string { return filepath.Join(e.t.root, filepath.FromSlash(e.rel)) }

// display is the path as the user knows it, for error messages.
func (e *entry) display() string {
	if e.t == nil {
		return e.name
	}
	return filepath.Join(e.t.display, filepath.FromSlash(e.rel))
}

// walker collects the entries of a source tree.
type walker struct {
	root     string // real (symlink-free) absolute path of the source directory
	display  string // the source directory as the user named it
	o        *options
	ig       *ignorer
	skip     map[string]bool // absolute paths never packed (the build's own output)
	skipAnc  map[string]bool // directories inside the tree that lead to a skip path
	entries  []entry
	t        *tree
	files    int
	fileSize int64
}

func (w *walker) tree() *tree {
	if w.t == nil {
		w.t = &tree{root: w.root, display: w.display}
	}
	return w.t
}

func (w *walker) displayPath(rel string) string {
	return filepath.Join(w.display, filepath.FromSlash(rel))
}

// prepareSkips records paths to leave out, and the directories leading to
// them, so that an output directory created inside the tree is not packed.
func (w *walker) prepareSkips(paths []string) {
	w.skip = map[string]bool{}
	w.skipAnc = map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		// The output may not exist yet: resolve the deepest existing parent.
		real := abs
		var tail []string
		for {
			if r, err := filepath.EvalSymlinks(real); err == nil {
				real = filepath.Join(append([]string{r}, tail...)...)
				break
			}
			parent := filepath.Dir(real)
			if parent == real {
				real = abs
				break
			}
			tail = append([]string{filepath.Base(real)}, tail...)
			real = parent
		}
		for _, q := range []string{abs, real} {
			w.skip[q] = true
			for d := filepath.Dir(q); d != q && strings.HasPrefix(d, w.root+string(filepath.Separator)); q, d = d, filepath.Dir(d) {
				w.skipAnc[d] = true
			}
		}
	}
}

func (w *walker) walk(rootInfo os.FileInfo) error {
	return w.walkDir(w.root, "", []os.FileInfo{rootInfo})
}

// walkDir adds the entries below abs (rel is its path relative to the root,
// "" for the root). stack holds the directories being walked, for loop detection.
func (w *walker) walkDir(abs, rel string, stack []os.FileInfo) error {
	if testHookWalkDir != nil {
		testHookWalkDir(abs)
	}
	des, err := os.ReadDir(abs)
	if err != nil {
		return w.readError("reading directory", rel, err)
	}
	for _, de := range des { // os.ReadDir sorts by name: the walk order is fixed
		name := de.Name()
		childAbs := filepath.Join(abs, name)
		childRel := name
		if rel != "" {
			childRel = rel + "/" + name
		}
		if w.skip[childAbs] {
			continue
		}
		info, err := os.Lstat(childAbs)
		if err != nil {
			return w.readError("reading", childRel, err)
		}
		if w.ig.ignored(childRel, info.IsDir()) {
			continue
		}
		if err := w.add(childAbs, childRel, info, stack); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) add(abs, rel string, info os.FileInfo, stack []os.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsDir():
		return w.addDir(abs, rel, info, stack)
	case mode.IsRegular():
		w.addFile(rel, info)
		return nil
	case mode&fs.ModeSymlink != 0:
		if w.o.symlinks == SymlinksFollow {
			return w.follow(abs, rel, stack)
		}
		return w.addSymlink(abs, rel)
	}
	return badPath("packing", w.displayPath(rel), ErrUnsupportedFile, describeType(mode),
		"only regular files, directories and symlinks can be packed: remove it or exclude it with --exclude or "+IgnoreFile)
}

func (w *walker) addDir(abs, rel string, info os.FileInfo, stack []os.FileInfo) error {
	for _, a := range stack {
		if os.SameFile(a, info) {
			return badPath("following", w.displayPath(rel), ErrSymlinkLoop, "it leads back to a directory being packed",
				"remove the link or use --symlinks preserve")
		}
	}
	at := len(w.entries)
	w.entries = append(w.entries, entry{name: rel, rel: rel, t: w.tree(), kind: kindDir, mode: 0o755})
	if err := w.walkDir(abs, rel, append(stack, info)); err != nil {
		return err
	}
	if len(w.entries) == at+1 && w.skipAnc[abs] {
		// The directory only holds our own output: leave it out too.
		w.entries = w.entries[:at]
	}
	return nil
}

// addFile records a regular file; it is read from the source directory
// joined with rel (entry.src).
func (w *walker) addFile(rel string, info os.FileInfo) {
	mode := int64(0o644)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	w.entries = append(w.entries, entry{name: rel, rel: rel, t: w.tree(), kind: kindFile, mode: mode, size: info.Size(),
		id: fileIdentity(info)})
	w.files++
	w.fileSize += info.Size()
}

func (w *walker) addSymlink(abs, rel string) error {
	target, err := os.Readlink(abs)
	if err != nil {
		return w.readError("reading link", rel, err)
	}
	disp := w.displayPath(rel)
	slashTarget := filepath.ToSlash(target)
	detail := fmt.Sprintf("it points to %q", target)
	const escapeHint = "make it relative and inside the tree, remove it, or use --symlinks follow to store its target's content"
	if filepath.IsAbs(target) || path.IsAbs(slashTarget) || filepath.VolumeName(target) != "" {
		return badPath("packing symlink", disp, ErrSymlinkEscape, detail, escapeHint)
	}
	if lex := path.Join(path.Dir(rel), slashTarget); lex == ".." || strings.HasPrefix(lex, "../") {
		return badPath("packing symlink", disp, ErrSymlinkEscape, detail, escapeHint)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return badPath("packing symlink", disp, ErrSymlinkDangling, detail, "create the target, or remove or exclude the link")
		}
		if isLoop(err) {
			return badPath("packing symlink", disp, ErrSymlinkLoop, detail, "remove the link")
		}
		return w.readError("resolving symlink", rel, err)
	}
	if !within(w.root, real) {
		return badPath("packing symlink", disp, ErrSymlinkEscape, fmt.Sprintf("it points to %q, which resolves to %q", target, real), escapeHint)
	}
	w.entries = append(w.entries, entry{name: rel, rel: rel, t: w.tree(), kind: kindSymlink, mode: 0o777, linkname: slashTarget})
	w.files++
	return nil
}

// follow stores what a symlink points to (SymlinksFollow).
func (w *walker) follow(abs, rel string, stack []os.FileInfo) error {
	info, err := os.Stat(abs)
	if err != nil {
		target, _ := os.Readlink(abs)
		detail := fmt.Sprintf("it points to %q", target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return badPath("following symlink", w.displayPath(rel), ErrSymlinkDangling, detail, "create the target, or remove or exclude the link")
		case isLoop(err):
			return badPath("following symlink", w.displayPath(rel), ErrSymlinkLoop, detail, "remove the link")
		}
		return w.readError("following symlink", rel, err)
	}
	switch {
	case info.IsDir():
		return w.addDir(abs, rel, info, stack)
	case info.Mode().IsRegular():
		w.addFile(rel, info)
		return nil
	}
	return badPath("following symlink", w.displayPath(rel), ErrUnsupportedFile, "its target is a "+describeType(info.Mode()),
		"only regular files, directories and symlinks can be packed: remove it or exclude it")
}

// testHookWalkDir lets tests change the tree while it is walked.
var testHookWalkDir func(abs string)

// readError turns an OS error met while walking into a PathError.
func (w *walker) readError(op, rel string, err error) error {
	disp := w.displayPath(rel)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return badPath(op, disp, ErrUnreadable, "", "make it readable, or exclude it with --exclude or "+IgnoreFile)
	case errors.Is(err, fs.ErrNotExist):
		return &PathError{Op: op, Path: disp, Err: ErrFileChanged, Detail: "it was removed during the build", Hint: "run the build again when the tree is not being modified"}
	}
	return &PathError{Op: op, Path: disp, Err: unwrapPathError(err)}
}

// unwrapPathError drops the *fs.PathError wrapper, whose text repeats the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isLoop(err error) bool {
	return errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "too many links")
}

// within reports whether p is root or below it (both absolute and clean).
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "Unix socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeIrregular != 0:
		return "irregular file"
	}
	return "file of type " + m.Type().String()
}
