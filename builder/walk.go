package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

type entryKind uint8

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
)

// entry is one tar entry, collected by the walk and written after sorting.
// It is kept small (104 bytes): a build holds one per file.
type entry struct {
	name     string // slash path inside the image, prefix included, no trailing slash
	kind     entryKind
	own      bool  // a large file in a layer of its own (LayersAuto)
	mode     int32 // 0o644, 0o755 or 0o777
	size     int64
	linkname string
	t        *tree  // the source directory; nil for directories the prefix adds
	id       fileID // what the walk saw of a file; checked again when it is read
}

// tree is the source directory, shared by its entries: the OS path of an
// entry and the path shown in errors are derived from it when needed rather
// than stored for each of possibly a million files.
type tree struct {
	root    string // real (symlink-free) absolute path
	display string // as the user named it
	cut     int    // length of the "prefix/" that names start with
}

// rel is the entry's path relative to the source directory.
func (e *entry) rel() string { return e.name[e.t.cut:] }

// src is the OS path to read: filepath.Join(root, FromSlash(rel)), which
// for a clean root and a clean relative path is this concatenation.
func (e *entry) src() string {
	return string(e.appendSrc(make([]byte, 0, len(e.t.root)+1+len(e.name)-e.t.cut)))
}

// appendSrc appends src's bytes to b (the cache key hashes them without
// making the string).
func (e *entry) appendSrc(b []byte) []byte {
	root := e.t.root
	b = append(b, root...)
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		b = append(b, filepath.Separator)
	}
	start := len(b)
	b = append(b, e.rel()...)
	if filepath.Separator != '/' {
		for i := start; i < len(b); i++ {
			if b[i] == '/' {
				b[i] = filepath.Separator
			}
		}
	}
	return b
}

// display is the path as the user knows it, for error messages.
func (e *entry) display() string {
	if e.t == nil {
		return e.name
	}
	return filepath.Join(e.t.display, filepath.FromSlash(e.rel()))
}

// walker collects the entries of a source tree. Directories are read in
// parallel (lstat of 100,000s of files is most of an unchanged rebuild); the
// entries are sorted afterwards, so the walk order does not matter.
type walker struct {
	root     string // real (symlink-free) absolute path of the source directory
	display  string // the source directory as the user named it
	o        *options
	ig       *ignorer
	skip     map[string]bool // absolute paths never packed (the build's own output)
	skipAnc  map[string]bool // directories inside the tree that lead to a skip path
	t        *tree
	entries  []*entry // set by walk, in no particular order
	files    int
	fileSize int64

	sem    chan struct{} // a token per extra directory reader
	wg     sync.WaitGroup
	mu     sync.Mutex
	shards []*shard // every shard made
	free   []*shard // shards no goroutine is filling
	err    error    // the failure with the smallest path among those seen
	errRel string   // err's path, relative to the root
	failed atomic.Bool
}

// shard is what one goroutine of the walk collected. Entries are stored in
// fixed-size chunks that never move, and handed out by pointer: with 100,000s
// of files, neither growing one slice of entries nor merging the shards into
// one may hold the entries twice, and sorting moves pointers, not entries.
type shard struct {
	entries  []*entry
	chunk    []entry
	files    int
	fileSize int64
	buf      []byte // openDir's buffer
}

const entryChunk = 1024

func (s *shard) add(e entry) {
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]entry, 0, entryChunk)
	}
	s.chunk = append(s.chunk, e)
	s.entries = append(s.entries, &s.chunk[len(s.chunk)-1])
}

// walkers is how many directories are read at once: stat calls wait on the
// kernel, so twice the cores keeps them busy.
func walkers() int { return min(2*runtime.GOMAXPROCS(0), 16) }

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
	w.t = &tree{root: w.root, display: w.display}
	w.sem = make(chan struct{}, walkers()-1)
	w.walkDir(w.getShard(), w.root, "", nil, []statInfo{statOf(rootInfo)})
	w.wg.Wait()
	if w.err != nil {
		return w.err
	}
	n := 0
	for _, s := range w.shards {
		n += len(s.entries)
	}
	w.entries = make([]*entry, 0, n)
	for _, s := range w.shards {
		w.entries = append(w.entries, s.entries...)
		w.files += s.files
		w.fileSize += s.fileSize
	}
	w.shards, w.free = nil, nil
	w.dropSkipAncestors()
	return nil
}

// getShard returns a shard for a goroutine of the walk to fill: one left by
// a finished goroutine, so that there are at most as many as walkers.
func (w *walker) getShard() *shard {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.free); n > 0 {
		s := w.free[n-1]
		w.free = w.free[:n-1]
		return s
	}
	s := &shard{}
	w.shards = append(w.shards, s)
	return s
}

func (w *walker) putShard(s *shard) {
	w.mu.Lock()
	w.free = append(w.free, s)
	w.mu.Unlock()
}

// fail records an error and stops the walk. Of several failures seen, the
// one with the smallest path is reported.
func (w *walker) fail(rel string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil || rel < w.errRel {
		w.err, w.errRel = err, rel
	}
	w.failed.Store(true)
}

// walkDir adds the entries below abs to s (rel is its path relative to the
// root, "" for the root; parts is rel split at "/"). stack holds the
// directories being walked, for loop detection.
func (w *walker) walkDir(s *shard, abs, rel string, parts []string, stack []statInfo) {
	if w.failed.Load() {
		return
	}
	if testHookWalkDir != nil {
		testHookWalkDir(abs)
	}
	d, names, err := openDir(abs, &s.buf)
	if err != nil {
		w.fail(rel, w.readError("reading directory", rel, err))
		return
	}
	s.entries = slices.Grow(s.entries, len(names))
	type subdir struct {
		name string
		info statInfo
	}
	var subdirs []subdir
	fd := d.fd()
	match := make([]string, len(parts)+1) // the path handed to the ignore matcher
	copy(match, parts)
	for _, name := range names {
		childRel := joinRel(rel, name)
		if len(w.skip) > 0 && w.skip[filepath.Join(abs, name)] {
			continue
		}
		info, err := lstatAt(fd, abs, name)
		if err != nil {
			d.Close()
			w.fail(childRel, w.readError("reading", childRel, err))
			return
		}
		match[len(parts)] = name
		if w.ig.ignoredPath(match, info.mode.IsDir()) {
			continue
		}
		mode := info.mode
		switch {
		case mode.IsDir():
			subdirs = append(subdirs, subdir{name, info}) // read after this directory is closed
			continue
		case mode.IsRegular():
			s.addFile(w.t, childRel, info)
			continue
		}
		var err2 error
		switch {
		case mode&fs.ModeSymlink != 0 && w.o.symlinks == SymlinksFollow:
			err2 = w.follow(s, filepath.Join(abs, name), childRel, append(parts[:len(parts):len(parts)], name), stack)
		case mode&fs.ModeSymlink != 0:
			err2 = w.addSymlink(s, filepath.Join(abs, name), childRel)
		default:
			err2 = badPathOption("packing", w.displayPath(childRel), ErrUnsupportedFile, describeType(mode),
				"only regular files, directories and symlinks can be packed: remove it or exclude it (WithExcludes or "+IgnoreFile+")", "WithExcludes")
		}
		if err2 != nil {
			d.Close()
			w.fail(childRel, err2)
			return
		}
	}
	d.Close()
	for _, sd := range subdirs {
		childRel := joinRel(rel, sd.name)
		if err := w.addDir(s, filepath.Join(abs, sd.name), childRel, append(parts[:len(parts):len(parts)], sd.name), sd.info, stack); err != nil {
			w.fail(childRel, err)
			return
		}
	}
}

// joinRel is the relative path of name in the directory rel ("" for the root).
func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// addDir records a directory and walks it, on another goroutine when one is
// free.
func (w *walker) addDir(s *shard, abs, rel string, parts []string, info statInfo, stack []statInfo) error {
	for _, a := range stack {
		if a.sameFile(info) {
			return badPathOption("following", w.displayPath(rel), ErrSymlinkLoop, "it leads back to a directory being packed",
				"remove the link, or keep links as links with WithSymlinks(SymlinksPreserve)", "WithSymlinks")
		}
	}
	s.add(entry{name: rel, t: w.t, kind: kindDir, mode: 0o755})
	stack = append(stack[:len(stack):len(stack)], info) // a copy: goroutines share the parent's
	select {
	case w.sem <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			ns := w.getShard()
			w.walkDir(ns, abs, rel, parts, stack)
			w.putShard(ns)
			<-w.sem
		}()
	default:
		w.walkDir(s, abs, rel, parts, stack)
	}
	return nil
}

// dropSkipAncestors leaves out directories that only held the build's own
// output (deepest first, so that a chain of them goes too).
func (w *walker) dropSkipAncestors() {
	if len(w.skipAnc) == 0 {
		return
	}
	parent := func(rel string) string {
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			return rel[:i]
		}
		return ""
	}
	children := map[string]int{}
	var cands []string
	for _, e := range w.entries {
		children[parent(e.rel())]++
		if e.kind == kindDir && w.skipAnc[filepath.Join(w.root, filepath.FromSlash(e.rel()))] {
			cands = append(cands, e.rel())
		}
	}
	if len(cands) == 0 {
		return
	}
	sort.Slice(cands, func(i, j int) bool { return strings.Count(cands[i], "/") > strings.Count(cands[j], "/") })
	drop := map[string]bool{}
	for _, c := range cands {
		if children[c] == 0 {
			drop[c] = true
			children[parent(c)]--
		}
	}
	kept := w.entries[:0]
	for _, e := range w.entries {
		if !(e.kind == kindDir && drop[e.rel()]) {
			kept = append(kept, e)
		}
	}
	w.entries = kept
}

// addFile records a regular file; it is read from the source directory
// joined with rel (entry.src).
func (s *shard) addFile(t *tree, rel string, info statInfo) {
	mode := int32(0o644)
	if info.mode.Perm()&0o111 != 0 {
		mode = 0o755
	}
	s.add(entry{name: rel, t: t, kind: kindFile, mode: mode, size: info.id.size, id: info.id})
	s.files++
	s.fileSize += info.id.size
}

func (w *walker) addSymlink(s *shard, abs, rel string) error {
	target, err := os.Readlink(abs)
	if err != nil {
		return w.readError("reading link", rel, err)
	}
	disp := w.displayPath(rel)
	slashTarget := filepath.ToSlash(target)
	detail := fmt.Sprintf("it points to %q", target)
	escape := func(detail string) error {
		return badPathOption("packing symlink", disp, ErrSymlinkEscape, detail,
			"make it relative and inside the tree, remove it, or store its target's content with WithSymlinks(SymlinksFollow)", "WithSymlinks")
	}
	if filepath.IsAbs(target) || path.IsAbs(slashTarget) || filepath.VolumeName(target) != "" {
		return escape(detail)
	}
	if lex := path.Join(path.Dir(rel), slashTarget); lex == ".." || strings.HasPrefix(lex, "../") {
		return escape(detail)
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
		return escape(fmt.Sprintf("it points to %q, which resolves to %q", target, real))
	}
	s.add(entry{name: rel, t: w.t, kind: kindSymlink, mode: 0o777, linkname: slashTarget})
	s.files++
	return nil
}

// follow stores what a symlink points to (SymlinksFollow).
func (w *walker) follow(s *shard, abs, rel string, parts []string, stack []statInfo) error {
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
		return w.addDir(s, abs, rel, parts, statOf(info), stack)
	case info.Mode().IsRegular():
		s.addFile(w.t, rel, statOf(info))
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
		return badPathOption(op, disp, ErrUnreadable, "", excludeHint, "WithExcludes")
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
