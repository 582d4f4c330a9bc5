package builder

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The OCI image spec (image-index.md, "platform") asks for the values of
// Go's GOOS and GOARCH, and lists the variants of the ARM architectures;
// container runtimes match a node's platform against exactly these names.
// knownPlatforms is `go tool dist list` (Go 1.26), by operating system.
var knownPlatforms = map[string][]string{
	"aix":       {"ppc64"},
	"android":   {"386", "amd64", "arm", "arm64"},
	"darwin":    {"amd64", "arm64"},
	"dragonfly": {"amd64"},
	"freebsd":   {"386", "amd64", "arm", "arm64", "riscv64"},
	"illumos":   {"amd64"},
	"ios":       {"amd64", "arm64"},
	"js":        {"wasm"},
	"linux":     {"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x"},
	"netbsd":    {"386", "amd64", "arm", "arm64"},
	"openbsd":   {"386", "amd64", "arm", "arm64", "ppc64", "riscv64"},
	"plan9":     {"386", "amd64", "arm"},
	"solaris":   {"amd64"},
	"wasip1":    {"wasm"},
	"windows":   {"386", "amd64", "arm64"},
}

// knownVariants are the variants of each architecture that runtimes match:
// the spec's ARM variants (arm64 also takes the v8.x and v9.x extension
// levels that containerd understands), and the x86-64 microarchitecture
// levels (GOAMD64).
var knownVariants = map[string][]string{
	"arm":   {"v5", "v6", "v7", "v8"},
	"arm64": {"v8", "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9", "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5"},
	"amd64": {"v1", "v2", "v3", "v4"},
}

// architectureAliases are other names for architectures (uname -m, Debian
// and RPM names): the platform is written with the name on the right.
var architectureAliases = map[string]struct{ arch, variant string }{
	"aarch64": {"arm64", ""},
	"arm64v8": {"arm64", "v8"},
	"x86_64":  {"amd64", ""},
	"x86-64":  {"amd64", ""},
	"x64":     {"amd64", ""},
	"armhf":   {"arm", "v7"},
	"armv7":   {"arm", "v7"},
	"armv7l":  {"arm", "v7"},
	"armel":   {"arm", "v6"},
	"armv6":   {"arm", "v6"},
	"armv6l":  {"arm", "v6"},
	"i386":    {"386", ""},
	"i486":    {"386", ""},
	"i586":    {"386", ""},
	"i686":    {"386", ""},
	"x86":     {"386", ""},
	"ppc64el": {"ppc64le", ""},
}

// osAliases are other names for operating systems.
var osAliases = map[string]string{"macos": "darwin", "osx": "darwin"}

// PlatformNote says that a platform was given under another name than the
// one it is written as in the image (such as linux/aarch64, written
// linux/arm64): a caller may tell its user.
type PlatformNote struct {
	Given   string // as given, such as "linux/aarch64"
	Written string // as written in the image, such as "linux/arm64"
}

func (n PlatformNote) String() string {
	return fmt.Sprintf("platform %s is written %s, the name runtimes match", n.Given, n.Written)
}

// ParsePlatformsWithNotes is ParsePlatforms, and also returns a note for
// each platform given under a well-known alias.
func ParsePlatformsWithNotes(values []string) ([]v1.Platform, []PlatformNote, error) {
	var out []v1.Platform
	var notes []PlatformNote
	var errs []error
	seen := map[string]bool{}
	for _, value := range values {
		for _, s := range strings.Split(value, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := parsePlatform(s)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			key := p.String()
			if key != s {
				notes = append(notes, PlatformNote{Given: s, Written: key})
			}
			if seen[key] {
				errs = append(errs, optionError("platform", s, "%q is listed twice", s))
				continue
			}
			seen[key] = true
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		return nil, nil, joinErrors(errs)
	}
	return out, notes, nil
}

// parsePlatform parses one os/arch[/variant], normalising aliases and
// case, and checks it against the known platforms.
func parsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return v1.Platform{}, optionError("platform", s, "%q is not of the form os/arch[/variant], for example linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if o, ok := osAliases[p.OS]; ok {
		p.OS = o
	}
	if a, ok := architectureAliases[p.Architecture]; ok {
		if a.variant != "" && p.Variant != "" && p.Variant != a.variant {
			return v1.Platform{}, optionError("platform", s, "%q: %s is %s/%s, which has no variant %q", s, parts[1], a.arch, a.variant, p.Variant)
		}
		p.Architecture = a.arch
		if p.Variant == "" {
			p.Variant = a.variant
		}
	}
	archs, ok := knownPlatforms[p.OS]
	if !ok {
		return v1.Platform{}, optionError("platform", s, "%q: unknown operating system %q%s; use one of %s",
			s, parts[0], suggest(p.OS, sortedKeys(knownPlatforms)), strings.Join(sortedKeys(knownPlatforms), ", "))
	}
	if !slices.Contains(archs, p.Architecture) {
		return v1.Platform{}, optionError("platform", s, "%q: unknown architecture %q for %s%s; %s architectures are %s",
			s, parts[1], p.OS, suggest(p.Architecture, archs), p.OS, strings.Join(archs, ", "))
	}
	if p.Variant != "" {
		variants := knownVariants[p.Architecture]
		if len(variants) == 0 {
			return v1.Platform{}, optionError("platform", s, "%q: %s has no variants; use %s/%s", s, p.Architecture, p.OS, p.Architecture)
		}
		if !slices.Contains(variants, p.Variant) {
			return v1.Platform{}, optionError("platform", s, "%q: unknown variant %q of %s%s; use one of %s",
				s, p.Variant, p.Architecture, suggest(p.Variant, variants), strings.Join(variants, ", "))
		}
	}
	return p, nil
}

// suggest returns "; did you mean X?" for the known value closest to s,
// when it is close enough to be a typo, else "".
func suggest(s string, known []string) string {
	best, dist := "", 3 // at most two edits away
	for _, k := range known {
		if d := editDistance(s, k); d < dist {
			best, dist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// joinErrors is errors.Join (one message per line), except that a single
// error stays itself.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
