package builder

import (
	"errors"
	"net/url"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
)

// gitInfo is what the enclosing git work tree says about the source.
type gitInfo struct {
	found      bool
	commitTime time.Time
	revision   string
	source     string
}

// readGit looks for a git repository at or above dir. A directory outside
// any repository, or a repository without commits, gives found == false.
func readGit(dir string) (gitInfo, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return gitInfo{}, nil
		}
		return gitInfo{}, err
	}
	head, err := repo.Head()
	if err != nil {
		return gitInfo{}, nil // no commits yet
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		return gitInfo{}, err
	}
	gi := gitInfo{found: true, commitTime: c.Committer.When.UTC(), revision: head.Hash().String()}
	if r, err := repo.Remote("origin"); err == nil && len(r.Config().URLs) > 0 {
		gi.source = redactURL(r.Config().URLs[0])
	}
	return gi, nil
}

// redactURL drops credentials from a remote URL: a token in
// https://user:token@host/repo must never end up in an image annotation.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s // scp-like git@host:path carries no secret
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
