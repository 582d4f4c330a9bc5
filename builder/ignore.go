package builder

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the ignore file read from the source root.
const IgnoreFile = ".assetignore"

// defaultExcludes are always applied first; a "!" pattern can re-include them.
var defaultExcludes = []string{".git", "/" + IgnoreFile}

// ignorer decides which relative paths are left out. Matching follows
// gitignore semantics through go-git's maintained implementation.
type ignorer struct {
	m gitignore.Matcher
}

// newIgnorer reads root/.assetignore (if any) and appends extra patterns.
func newIgnorer(root, display string, extra []string) (*ignorer, error) {
	var ps []gitignore.Pattern
	for _, p := range defaultExcludes {
		ps = append(ps, gitignore.ParsePattern(p, nil))
	}
	f, err := os.Open(filepath.Join(root, IgnoreFile))
	switch {
	case err == nil:
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for line := 1; sc.Scan(); line++ {
			s := strings.TrimSuffix(sc.Text(), "\r")
			if strings.HasPrefix(s, "#") || strings.TrimSpace(s) == "" {
				continue
			}
			if err := validatePattern(s); err != nil {
				return nil, badPath("reading", filepath.Join(display, IgnoreFile), ErrInvalidIgnore,
					fmt.Sprintf("line %d: %q: %v", line, s, err), "fix or remove the pattern (gitignore syntax)")
			}
			ps = append(ps, gitignore.ParsePattern(s, nil))
		}
		if err := sc.Err(); err != nil {
			return nil, badPath("reading", filepath.Join(display, IgnoreFile), ErrInvalidIgnore, err.Error(), "")
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, badPath("reading", filepath.Join(display, IgnoreFile), ErrUnreadable, err.Error(), "make it readable")
	}
	for _, s := range extra {
		if err := checkExclude(s); err != nil {
			return nil, err
		}
		ps = append(ps, gitignore.ParsePattern(s, nil))
	}
	return &ignorer{m: gitignore.NewMatcher(ps)}, nil
}

// checkExclude checks an exclude pattern (WithExcludes).
func checkExclude(s string) error {
	if strings.TrimSpace(s) == "" {
		return &OptionError{Option: "exclude pattern", Value: s, Reason: "is empty", Err: ErrInvalidIgnore}
	}
	if err := validatePattern(s); err != nil {
		return &OptionError{Option: "exclude pattern", Value: s, Reason: fmt.Sprintf("%q: %v (gitignore syntax expected)", s, err), Err: ErrInvalidIgnore}
	}
	return nil
}

// validatePattern reports glob syntax errors that go-git would silently treat
// as "never matches", such as an unclosed "[".
func validatePattern(p string) error {
	p = strings.TrimPrefix(p, "!")
	p = strings.TrimRight(p, " ")
	p = strings.TrimSuffix(p, "/")
	if strings.TrimSpace(p) == "" {
		return errors.New("pattern is empty")
	}
	for _, part := range strings.Split(p, "/") {
		if part == "**" || part == "" {
			continue
		}
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("invalid glob %q", part)
		}
	}
	return nil
}

// ignored reports whether rel (slash-separated, relative to the root) is excluded.
func (ig *ignorer) ignored(rel string, isDir bool) bool {
	return ig.ignoredPath(strings.Split(rel, "/"), isDir)
}

// ignoredPath is ignored for a path already split at "/" (the walk reuses
// one slice per directory instead of splitting every file's path).
func (ig *ignorer) ignoredPath(parts []string, isDir bool) bool {
	return ig.m.Match(parts, isDir)
}
