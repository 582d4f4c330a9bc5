package doctest

import (
	"regexp"
	"strings"
)

// Values are what the placeholders of the documentation stand for in one
// run.
type Values struct {
	// Registry is host:port of the registry that every registry host of
	// the documentation maps onto; Namespace is a repository prefix that
	// keeps one block's images apart from another's ("" for none).
	Registry, Namespace string
	// Digest is the hex digest of the image pushed beforehand to every
	// repository a block names: `sha256:<hex>` and `sha256:…` become it.
	Digest string
	// Tmp replaces /tmp in absolute paths ("" keeps them).
	Tmp string
}

var placeholderValues = Values{Registry: "127.0.0.1:5000", Namespace: "b0", Digest: strings.Repeat("0", 64)}

var (
	// docHosts are the registry hosts the examples use.
	docHosts = regexp.MustCompile(`\b(?:registry\.example\.com|staging\.example\.com|prod\.example\.com|ghcr\.io)(/?)`)
	// digestPlaceholder is a digest written as <hex> or an ellipsis.
	digestPlaceholder = regexp.MustCompile(`sha256:(?:<hex>|…)`)
	// upperPlaceholder are the upper-case stand-ins of --help's examples.
	upperPlaceholder = regexp.MustCompile(`\b(REPO|REF|SRC|DST)\b`)
	// tmpDir is /tmp/ at the start of a word.
	tmpDir = regexp.MustCompile(`(^|[\s=])/tmp/`)
	// optional is a synopsis' optional flag group: [--flag value].
	optional = regexp.MustCompile(`\[(--[^\]]*)\]`)
	// alternatives is a synopsis' choice, a|b|c without spaces (a pipe
	// in the documentation always has spaces around it).
	alternatives = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9-]*(?:\|[A-Za-z0-9][A-Za-z0-9-]*)+`)
)

// Substitute makes a documented line runnable: registry hosts map onto
// v.Registry (under v.Namespace when a repository follows), REPO, REF, SRC
// and DST onto repositories there, digest placeholders onto v.Digest,
// optional groups are included and alternative alt of each a|b|c is taken
// (the last one when it has fewer).
func Substitute(line string, v Values, alt int) string {
	ns := v.Registry
	if v.Namespace != "" {
		ns += "/" + v.Namespace
	}
	line = digestPlaceholder.ReplaceAllString(line, "sha256:"+v.Digest)
	line = docHosts.ReplaceAllStringFunc(line, func(m string) string {
		if strings.HasSuffix(m, "/") {
			return ns + "/"
		}
		return v.Registry
	})
	line = upperPlaceholder.ReplaceAllStringFunc(line, func(m string) string {
		switch m {
		case "REPO":
			return ns + "/web/site-assets"
		case "REF":
			return ns + "/web/site-assets@sha256:" + v.Digest
		case "SRC":
			return ns + "/staging/site:v42"
		default: // DST
			return ns + "/prod/site:v42"
		}
	})
	if v.Tmp != "" {
		line = tmpDir.ReplaceAllString(line, "${1}"+v.Tmp+"/")
	}
	line = optional.ReplaceAllString(line, "$1")
	return alternatives.ReplaceAllStringFunc(line, func(m string) string {
		alts := strings.Split(m, "|")
		return alts[min(alt, len(alts)-1)]
	})
}

// Alternatives is how many variants a command has: the most choices of
// any a|b|c in it (1 without any).
func Alternatives(c Command) int {
	n := 1
	for _, l := range c.Lines {
		for _, m := range alternatives.FindAllString(l, -1) {
			n = max(n, strings.Count(m, "|")+1)
		}
	}
	return n
}

// wantPattern turns a documented output into a regular expression: the
// hosts and placeholders as Substitute maps them, any digest placeholder
// matching any digest, and … anything.
func wantPattern(want string, v Values) *regexp.Regexp {
	v.Digest = "\x00"
	s := Substitute(want, v, 0)
	s = regexp.QuoteMeta(s)
	s = strings.ReplaceAll(s, "\x00", "[0-9a-f]{64}")
	s = strings.ReplaceAll(s, "…", ".*")
	return regexp.MustCompile(`^` + s + `$`)
}
