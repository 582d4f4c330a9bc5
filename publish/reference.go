package publish

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/assetpack/assetpack/internal/lazyre"
)

// The distribution spec's grammar of a reference (distribution/reference):
//
//	reference  := [registry "/"] repository [":" tag] ["@" digest]
//	registry   := host [":" port]
//	repository := component ("/" component)*
//	component  := [a-z0-9]+ (("." | "_" | "__" | "-"+) [a-z0-9]+)*
//	tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//	digest     := "sha256:" 64 lowercase hex digits
//
// The first part is the registry when it has a "." or a ":", or is
// localhost; a reference without one names Docker Hub.
var (
	componentRE = lazyre.New(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagRE       = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	hostRE      = lazyre.New(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$`)
	digestRE    = lazyre.New(`^sha256:[0-9a-f]{64}$`)
)

// What each part may hold, for the messages.
const (
	repositoryGrammar = "path components of lowercase letters and digits, separated by '/', each part joined by '.', '_', '__' or '-'"
	tagGrammar        = "1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
	registryGrammar   = "a host name or address, optionally with :PORT"
)

// maxTag is the longest tag the distribution spec allows.
const maxTag = 128

// describeReference names what is wrong in s, part by part (registry,
// repository, tag, digest), with what each may hold; "" when it finds
// nothing (the caller then falls back to the parser's words). wantTag
// refuses a digest.
func describeReference(s string, wantTag bool) string {
	var problems []string
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		digest := rest[i+1:]
		rest = rest[:i]
		switch {
		case wantTag:
			problems = append(problems, fmt.Sprintf("a tag is needed here (REPOSITORY:TAG), not a digest (@%s)", digest))
		case !digestRE().MatchString(digest):
			problems = append(problems, fmt.Sprintf("the digest %q is not sha256: followed by 64 lowercase hex digits", digest))
		}
	}
	if host, path, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		problems = append(problems, describeRegistry(host)...)
		rest = path
	}
	repo, tag, hasTag := rest, "", false
	if i := strings.Index(rest[strings.LastIndex(rest, "/")+1:], ":"); i >= 0 {
		i += strings.LastIndex(rest, "/") + 1
		repo, tag, hasTag = rest[:i], rest[i+1:], true
	}
	problems = append(problems, describeRepository(repo)...)
	if hasTag {
		problems = append(problems, describeTag(tag)...)
	}
	return strings.Join(problems, "; ")
}

func describeRegistry(host string) []string {
	h, port, hasPort := host, "", false
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		h, port, hasPort = host[:i], host[i+1:], true
	}
	var out []string
	if !hostRE().MatchString(h) {
		out = append(out, fmt.Sprintf("the registry %q is not a host name (a registry is %s)", host, registryGrammar))
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			out = append(out, fmt.Sprintf("the registry %q has port %q, not a number from 1 to 65535", host, port))
		}
	}
	return out
}

func describeRepository(repo string) []string {
	if repo == "" {
		return []string{"the repository is empty (a repository is " + repositoryGrammar + ")"}
	}
	if strings.ToLower(repo) != repo && componentsOK(strings.ToLower(repo)) {
		return []string{fmt.Sprintf("the repository %q has uppercase letters: repositories are lowercase (%s)", repo, strings.ToLower(repo))}
	}
	if !componentsOK(repo) {
		return []string{fmt.Sprintf("the repository %q is not valid (a repository is %s)", repo, repositoryGrammar)}
	}
	if len(repo) > 255 {
		return []string{fmt.Sprintf("the repository is %d characters long: at most 255", len(repo))}
	}
	return nil
}

func componentsOK(repo string) bool {
	for _, c := range strings.Split(repo, "/") {
		if !componentRE().MatchString(c) {
			return false
		}
	}
	return true
}

func describeTag(tag string) []string {
	switch {
	case tag == "":
		return []string{"the tag after ':' is empty (a tag is " + tagGrammar + ")"}
	case len(tag) > maxTag:
		return []string{fmt.Sprintf("the tag is %d characters long: at most %d", len(tag), maxTag)}
	case strings.Contains(tag, ":"):
		return []string{fmt.Sprintf("the tag %q has a ':' (a reference has one :TAG after the repository; a tag is %s)", tag, tagGrammar)}
	case !tagRE().MatchString(tag):
		return []string{fmt.Sprintf("the tag %q is not valid (a tag is %s)", tag, tagGrammar)}
	}
	return nil
}
