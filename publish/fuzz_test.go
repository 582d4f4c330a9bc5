package publish_test

import (
	"strings"
	"testing"

	"github.com/assetpack/assetpack/publish"
)

// FuzzReferences: tag, reference and output parsing never panic, and an
// accepted tag round-trips through its string form.
func FuzzReferences(f *testing.F) {
	for _, s := range []string{"ghcr.io/acme/site:v42", "localhost:5000/a", "127.0.0.1:5000/x/y:z", "UPPER/case", "a@sha256:" + strings.Repeat("a", 64), "oci:out/site", "tar:x.tar", "oci:x@sha256:00", ":", "@", "a::b"} {
		f.Add(s)
	}
	r, _ := publish.NewRegistry()
	f.Fuzz(func(t *testing.T, s string) {
		if tag, err := r.ParseTag(s); err == nil {
			again, err := r.ParseTag(tag.String())
			if err != nil || again.String() != tag.String() {
				t.Fatalf("ParseTag(%q) = %q does not round-trip: %v", s, tag, err)
			}
		}
		r.ParseReference(s)
		publish.ParseTarget(s)
		publish.ParseSource(s)
	})
}
