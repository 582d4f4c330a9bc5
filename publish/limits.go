package publish

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Limits before the first byte. A push checks what it is about to send
// against what the registry is known to take (Registry.Limits): the number
// of layers, each blob's size, the manifest's size. A blob over the limit
// would be refused after its upload (GHCR's 10 GB layer limit is met after
// 10 GB were sent); the check refuses it before. Registries not known are
// not checked, and neither is what a registry does not publish.

// LimitError is something a push would send that the registry is known not
// to take. It matches ErrLimit.
type LimitError struct {
	Host   string // registry host[:port]
	What   string // "layer sha256:…", "the manifest of …", "the image for …"
	Size   int64  // its size, or its number of layers
	Limit  int64  // the limit it exceeds
	Limits Limits // the registry's limits, with their source
	unit   string // "bytes" or "layers"
}

func (e *LimitError) Error() string {
	if e.unit == "layers" {
		return fmt.Sprintf("%s has %d layers, more than %s takes (%d%s); %v: build it with fewer layers",
			e.What, e.Size, registryName(e.Host, e.Limits), e.Limit, source(e.Limits), ErrLimit)
	}
	what := "layer"
	if strings.HasPrefix(e.What, "the manifest") {
		what = "manifest"
	}
	return fmt.Sprintf("%s is %s, over %s; %v: it was not uploaded; make it smaller (a layer holds whole files: split the largest file), or push to a registry that takes it",
		e.What, sizeString(e.Size), e.Limits.describe(what, e.Limit), ErrLimit)
}

func (e *LimitError) Unwrap() error { return ErrLimit }

func registryName(host string, l Limits) string {
	if l.Registry != "" {
		return l.Registry
	}
	return host
}

func source(l Limits) string {
	if l.Source == "" {
		return ""
	}
	return ", " + l.Source
}

// checkBlob refuses a blob larger than host takes.
func (r *Registry) checkBlob(host string, d v1.Hash, size int64) error {
	l := r.Limits(host)
	if l.MaxLayerSize > 0 && size > l.MaxLayerSize {
		return &LimitError{Host: host, What: "blob " + d.String(), Size: size, Limit: l.MaxLayerSize, Limits: l, unit: "bytes"}
	}
	return nil
}

// preflight checks art against the limits of every registry of repos
// before anything of it is sent: the number of layers of each image, each
// blob, the manifest.
func (u *Uploader) preflight(art Artifact, repos []name.Repository) error {
	imgs, _, err := images(art)
	if err != nil {
		return err
	}
	raw, _, err := manifestOf(art)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, repo := range repos {
		host := repo.RegistryStr()
		if seen[host] {
			continue
		}
		seen[host] = true
		l := u.r.Limits(host)
		if l == (Limits{}) {
			continue
		}
		if l.MaxManifestSize > 0 && int64(len(raw)) > l.MaxManifestSize {
			return &LimitError{Host: host, What: "the manifest of " + repo.String(), Size: int64(len(raw)), Limit: l.MaxManifestSize, Limits: l, unit: "bytes"}
		}
		for _, img := range imgs {
			ls, err := img.Layers()
			if err != nil {
				return err
			}
			if l.MaxLayers > 0 && len(ls) > l.MaxLayers {
				return &LimitError{Host: host, What: "the image for " + repo.String(), Size: int64(len(ls)), Limit: int64(l.MaxLayers), Limits: l, unit: "layers"}
			}
			for _, layer := range ls {
				d, err := layer.Digest()
				if err != nil {
					return err
				}
				size, err := layer.Size()
				if err != nil {
					return err
				}
				if err := u.r.checkBlob(host, d, size); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// manifestTooLarge reports whether err is a registry refusing a manifest
// for its size: 413 Payload Too Large, as the distribution spec asks of a
// registry that enforces a limit, or distribution's 400 MANIFEST_INVALID
// "http: request body too large".
func manifestTooLarge(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusRequestEntityTooLarge {
		return true
	}
	msg := strings.ToLower(terr.Error())
	return (hasCode(err, transport.ManifestInvalidErrorCode) || hasCode(err, transport.SizeInvalidErrorCode)) &&
		(strings.Contains(msg, "too large") || strings.Contains(msg, "exceeds"))
}

// manifestError explains a manifest PUT that the registry refused for its
// size; other errors are returned as they are. The registry's answer is
// quoted, not wrapped, so that the explanation survives Registry.explain.
func (e *engine) manifestError(s *session, ref string, raw []byte, err error) error {
	if !manifestTooLarge(err) {
		return err
	}
	host := s.repo.RegistryStr()
	l := e.r.Limits(host)
	limit := "registries need only take 4 MiB (OCI distribution spec; distribution 2.8 refuses more)"
	if l.MaxManifestSize > 0 {
		limit = "it takes at most " + l.describe("manifest", l.MaxManifestSize)
	}
	return fmt.Errorf("%s refused the manifest of %s, %s, as too large (%v): %w; %s: make it smaller (fewer platforms, layers or annotations)",
		host, refString(s.repo, ref), sizeString(int64(len(raw))), err, ErrLimit, limit)
}
