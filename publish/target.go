package publish

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on with errors.Is.
var (
	// ErrInvalidTarget: an output that is not oci:PATH or tar:PATH.
	ErrInvalidTarget = errors.New("invalid output")
	// ErrOutputExists: the output path exists and was not written by assetpack.
	ErrOutputExists = errors.New("output path exists and is not an assetpack output")
)

// Kind is the kind of local output.
type Kind string

const (
	// Layout is an OCI image layout directory (oci-layout, index.json, blobs/).
	Layout Kind = "oci"
	// Archive is an OCI image layout in a tar file ("oci-archive").
	Archive Kind = "tar"
)

// Target is a local output location.
type Target struct {
	Kind Kind
	Path string
}

func (t Target) String() string { return string(t.Kind) + ":" + t.Path }

// ParseTarget parses "oci:PATH" (a layout directory) or "tar:PATH" (an OCI
// archive). "oci-layout:" and "oci-archive:" are accepted as synonyms. A bare
// path is an archive when it ends in ".tar", a layout otherwise.
func ParseTarget(s string) (Target, error) {
	kind, p, ok := strings.Cut(s, ":")
	if ok && len(kind) > 1 { // "C:\dir" on Windows is a bare path
		switch kind {
		case "oci", "oci-layout":
			return target(Layout, p, s)
		case "tar", "oci-archive":
			return target(Archive, p, s)
		}
		return Target{}, fmt.Errorf("%w %q: unknown kind %q; use oci:DIR for an OCI layout or tar:FILE for an OCI archive", ErrInvalidTarget, s, kind)
	}
	if strings.HasSuffix(s, ".tar") {
		return target(Archive, s, s)
	}
	return target(Layout, s, s)
}

func target(k Kind, p, orig string) (Target, error) {
	if p == "" {
		return Target{}, fmt.Errorf("%w %q: the path is empty; use oci:DIR or tar:FILE", ErrInvalidTarget, orig)
	}
	return Target{Kind: k, Path: p}, nil
}
