package publish_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/publish"
)

// TestParseTagNamesThePart: a malformed tag says which part is wrong
// (registry, repository, tag) and what is allowed there.
func TestParseTagNamesThePart(t *testing.T) {
	r, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 129)
	for _, tc := range []struct{ in, want string }{
		{"repo:bad:tag", `the tag "bad:tag" has a ':' (a reference has one :TAG after the repository; a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-')`},
		{"ghcr.io/Acme/Site:v1", `the repository "Acme/Site" has uppercase letters: repositories are lowercase (acme/site)`},
		{"ghcr.io/acme/site:", `the tag after ':' is empty`},
		{"ghcr.io/acme/site:" + long, `the tag is 129 characters long: at most 128`},
		{"ghcr.io/acme/site:-v1", `the tag "-v1" is not valid (a tag is 1 to 128`},
		{"ghcr.io/acme/site@sha256:" + strings.Repeat("a", 64), `a tag is needed here (REPOSITORY:TAG), not a digest (@sha256:aaaa`},
		{"ghcr.io/acme//site:v1", `the repository "acme//site" is not valid (a repository is path components of lowercase letters`},
		{"ghcr.io/acme/si te:v1", `the repository "acme/si te" is not valid`},
		{"ghcr.io:abc/acme/site:v1", `the registry "ghcr.io:abc" has port "abc", not a number from 1 to 65535`},
		{"gh_cr.io/acme/site:v1", `the registry "gh_cr.io" is not a host name (a registry is a host name or address, optionally with :PORT)`},
		{"ghcr.io/:v1", `the repository is empty`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := r.ParseTag(tc.in)
			if err == nil {
				t.Fatalf("ParseTag(%q) succeeded", tc.in)
			}
			if !errors.Is(err, publish.ErrInvalidReference) {
				t.Errorf("err = %v, want ErrInvalidReference", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.HasSuffix(msg, "expected REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/acme/site-assets:v42") {
				t.Errorf("err = %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

func TestParseReferenceNamesThePart(t *testing.T) {
	r, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"ghcr.io/acme/site@sha256:xyz", `the digest "sha256:xyz" is not sha256: followed by 64 lowercase hex digits`},
		{"ghcr.io/ACME/site@sha256:" + strings.Repeat("a", 64), `the repository "ACME/site" has uppercase letters`},
		{"repo:bad:tag", `the tag "bad:tag" has a ':'`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := r.ParseReference(tc.in)
			if err == nil || !errors.Is(err, publish.ErrInvalidReference) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseReference(%q) = %v, want an invalid reference containing %q", tc.in, err, tc.want)
			}
		})
	}
	for _, ok := range []string{"ghcr.io/acme/site:v1", "localhost:5000/a/b", "acme/site", "ghcr.io/acme/site@sha256:" + strings.Repeat("a", 64)} {
		if _, err := r.ParseReference(ok); err != nil {
			t.Errorf("ParseReference(%q) = %v", ok, err)
		}
	}
}
