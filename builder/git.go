package builder

import (
	"net/url"
	"strings"
	"time"

	"github.com/assetpack/assetpack/internal/gitrepo"
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
	repo, err := gitrepo.Open(dir)
	if err != nil || repo == nil {
		return gitInfo{}, err
	}
	head, ok, err := repo.Head()
	if err != nil || !ok {
		return gitInfo{}, err
	}
	when, err := repo.CommitTime(head.Hash)
	if err != nil {
		return gitInfo{}, err
	}
	gi := gitInfo{found: true, commitTime: when, revision: head.Hash.String()}
	if u, ok := repo.RemoteURL("origin"); ok {
		gi.source = redactURL(u)
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
