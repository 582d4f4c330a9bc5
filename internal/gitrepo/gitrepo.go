// Package gitrepo reads what a build takes from the git repository holding a
// directory: the HEAD commit, its committer time, the tags on it and the
// origin remote.
//
// It opens the repository with go-git's storage (storage/filesystem, which
// reads loose and packed objects, packed refs and the config) and reads the
// two header lines it needs from the raw commit and tag objects itself.
// go-git's top-level package and its plumbing/object package are left out on
// purpose: they link go-git's transports (SSH, HTTP, the known_hosts and
// ssh-agent support) and an OpenPGP implementation for commit signatures,
// whose initialisation cost every command, `assetpack --version` included,
// about 3 ms of its 25 ms start (issue 24: start within 3× of a Go
// hello-world). Finding the repository follows go-git's own
// PlainOpenWithOptions with DetectDotGit and EnableDotGitCommonDir, which
// this package replaced; the tests compare every answer with go-git's.
package gitrepo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// Repo is an open repository.
type Repo struct {
	s   *filesystem.Storage
	cfg *config.Config // read once, by Open
	dir string         // the git directory, for errors
}

// Head is the commit HEAD points at.
type Head struct {
	Hash plumbing.Hash
	// Branch is the branch HEAD is on ("main", "feature/x"); empty for a
	// detached HEAD.
	Branch string
}

// Open opens the repository whose work tree holds dir, looking in dir and
// then in each parent for a .git directory or a .git file (a linked work
// tree or a submodule). A directory outside any repository gives (nil, nil).
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	gitDir, err := findGitDir(abs)
	if err != nil || gitDir == "" {
		return nil, err
	}
	dot := osfs.New(gitDir)
	common, err := commonDir(gitDir)
	if err != nil {
		return nil, err
	}
	var fs billy.Filesystem = dot
	if common != "" {
		fs = dotgit.NewRepositoryFilesystem(dot, osfs.New(common))
	}
	r := &Repo{s: filesystem.NewStorage(fs, cache.NewObjectLRUDefault()), dir: gitDir}
	if _, err := r.s.Reference(plumbing.HEAD); errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil // a .git without a HEAD is no repository (as go-git and git say)
	}
	if r.cfg, err = r.s.Config(); err != nil {
		return nil, fmt.Errorf("%s: reading the config: %w", gitDir, err)
	}
	if err := r.checkFormat(); err != nil {
		return nil, err
	}
	return r, nil
}

// findGitDir walks up from dir to the first .git; it returns "" when there is
// none up to the root.
func findGitDir(dir string) (string, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		dir = filepath.Dir(dir)
	}
	for {
		p := filepath.Join(dir, ".git")
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return p, nil
		case err == nil:
			return gitDirFromFile(p)
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// gitDirFromFile reads a .git file ("gitdir: PATH", as git writes for a
// linked work tree or a submodule).
func gitDirFromFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	rest, ok := strings.CutPrefix(line, "gitdir: ")
	if !ok {
		return "", fmt.Errorf("%s: a .git file must start with \"gitdir: \"; it starts %q", p, truncate(line))
	}
	gd := strings.TrimSpace(rest)
	if !filepath.IsAbs(gd) {
		gd = filepath.Join(filepath.Dir(p), gd)
	}
	return gd, nil
}

// commonDir reads GITDIR/commondir, which a linked work tree's git directory
// holds: the main repository's git directory, which keeps the objects, the
// shared refs and the config. It returns "" when there is none.
func commonDir(gitDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(b))
	if p == "" {
		return "", nil
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(gitDir, p)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: the common git directory %s it names: %w", filepath.Join(gitDir, "commondir"), p, err)
	}
	return p, nil
}

// checkFormat refuses a repository this package would misread: a format
// version above 1, SHA-256 objects, refs in a reftable, or an extension it
// does not know (git itself refuses a repository with an unknown extension).
// The extensions it allows change nothing it reads.
func (r *Repo) checkFormat() error {
	cfg := r.cfg
	if cfg.Raw == nil {
		return nil
	}
	// The raw value: go-git's Core.RepositoryFormatVersion keeps only "1".
	switch v := strings.TrimSpace(cfg.Raw.Section("core").Options.Get("repositoryformatversion")); v {
	case "", "0", "1":
	default:
		return fmt.Errorf("%s: core.repositoryformatversion %q is not supported (0 or 1)", r.dir, v)
	}
	if !cfg.Raw.HasSection("extensions") {
		return nil
	}
	for _, o := range cfg.Raw.Section("extensions").Options {
		name, value := strings.ToLower(o.Key), strings.ToLower(o.Value)
		switch {
		case name == "objectformat" && value == "sha1", name == "refstorage" && value == "files":
		case name == "noop", name == "noop-v1", name == "worktreeconfig", name == "partialclone", name == "preciousobjects":
		default:
			return fmt.Errorf("%s: extensions.%s = %s is not supported (a SHA-1 repository with its refs in files is)", r.dir, o.Key, o.Value)
		}
	}
	return nil
}

// Head returns the commit HEAD points at; ok is false in a repository
// without commits.
func (r *Repo) Head() (h Head, ok bool, err error) {
	ref, err := storer.ResolveReference(r.s, plumbing.HEAD)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Head{}, false, nil
	}
	if err != nil {
		return Head{}, false, fmt.Errorf("%s: reading HEAD: %w", r.dir, err)
	}
	h.Hash = ref.Hash()
	if ref.Name().IsBranch() {
		h.Branch = ref.Name().Short()
	}
	return h, true, nil
}

// CommitTime returns the committer time of commit h, in UTC.
func (r *Repo) CommitTime(h plumbing.Hash) (time.Time, error) {
	hdr, err := r.header(plumbing.CommitObject, h)
	if err != nil {
		return time.Time{}, err
	}
	line, ok := hdr["committer"]
	if !ok {
		return time.Time{}, fmt.Errorf("%s: commit %s has no committer", r.dir, h)
	}
	// "NAME <EMAIL> SECONDS ZONE": the seconds follow the last '>'.
	i := strings.LastIndexByte(line, '>')
	f := strings.Fields(line[i+1:])
	if i < 0 || len(f) == 0 {
		return time.Time{}, fmt.Errorf("%s: commit %s: committer %q has no time", r.dir, h, truncate(line))
	}
	sec, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: commit %s: committer time %q: %w", r.dir, h, f[0], err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// TagsAt returns the names of the tags that point at commit h, directly or
// through annotated tags, sorted. A tag whose object cannot be read (a
// shallow or damaged clone) is left out, as go-git's Tags left it, so that
// it hides no other tag.
func (r *Repo) TagsAt(h plumbing.Hash) ([]string, error) {
	refs, err := r.s.IterReferences()
	if err != nil {
		return nil, err
	}
	var names []string
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		if !ref.Name().IsTag() || ref.Type() != plumbing.HashReference {
			return nil
		}
		if target, err := r.peel(ref.Hash()); err == nil && target == h {
			names = append(names, ref.Name().Short())
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// peel follows annotated tags to the object they name.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 { // git peels tags of tags too; a chain longer than this is not one a build meets
		obj, err := r.s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return h, fmt.Errorf("%s: reading object %s: %w", r.dir, h, err)
		}
		if obj.Type() != plumbing.TagObject {
			return h, nil
		}
		hdr, err := readHeader(obj)
		if err != nil {
			return h, fmt.Errorf("%s: tag object %s: %w", r.dir, h, err)
		}
		next, ok := hdr["object"]
		if !ok || !plumbing.IsHash(next) {
			return h, fmt.Errorf("%s: tag object %s names no object", r.dir, h)
		}
		h = plumbing.NewHash(next)
	}
	return h, nil
}

// RemoteURL returns the first URL of the named remote; ok is false when
// there is no such remote.
func (r *Repo) RemoteURL(name string) (url string, ok bool) {
	rc, found := r.cfg.Remotes[name]
	if !found || len(rc.URLs) == 0 {
		return "", false
	}
	return rc.URLs[0], true
}

// header reads the header of object h, which must be of type t.
func (r *Repo) header(t plumbing.ObjectType, h plumbing.Hash) (map[string]string, error) {
	obj, err := r.s.EncodedObject(t, h)
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s %s: %w", r.dir, t, h, err)
	}
	hdr, err := readHeader(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", r.dir, t, h, err)
	}
	return hdr, nil
}

// readHeader reads the "key value" lines of a commit or tag object up to the
// blank line before its message. A key that repeats keeps its first value;
// continuation lines (a signature's) are skipped.
func readHeader(obj plumbing.EncodedObject) (map[string]string, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	hdr := map[string]string{}
	br := bufio.NewReader(rd)
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimSuffix(line, "\n")
		if line == "" && err == nil {
			return hdr, nil // the blank line before the message
		}
		if line != "" && line[0] != ' ' {
			k, v, _ := strings.Cut(line, " ")
			if _, seen := hdr[k]; !seen {
				hdr[k] = v
			}
		}
		if err == io.EOF {
			return hdr, nil // no message
		}
		if err != nil {
			return nil, err
		}
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
