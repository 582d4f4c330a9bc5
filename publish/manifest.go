package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Manifests go through the engine too: PUT /v2/REPO/manifests/REF with the
// manifest's media type (spec "Pushing Manifests"), under the same retry
// policy, and the Docker-Content-Digest of the answer must name the digest
// we computed. The caller PUTs a manifest only once every blob it refers to
// is known to be in the repository.

// manifestOf returns what to PUT for art: its bytes and media type. art
// must be an image or an index.
func manifestOf(art Artifact) ([]byte, types.MediaType, error) {
	var m interface {
		RawManifest() ([]byte, error)
		MediaType() (types.MediaType, error)
	}
	switch a := art.(type) {
	case v1.Image:
		m = a
	case v1.ImageIndex:
		m = a
	default:
		return nil, "", fmt.Errorf("cannot push %T: not an image or an index", art)
	}
	raw, err := m.RawManifest()
	if err != nil {
		return nil, "", err
	}
	mt, err := m.MediaType()
	if err != nil {
		return nil, "", err
	}
	return raw, mt, nil
}

// putManifest PUTs raw (of media type mt, digest want) as ref (a tag or a
// digest) in the session's repository.
func (e *engine) putManifest(ctx context.Context, s *session, ref string, raw []byte, mt types.MediaType, want v1.Hash) error {
	_, err := e.putManifestHeader(ctx, s, ref, raw, mt, want)
	return err
}

// putManifestHeader is putManifest, returning the answer's headers (a
// registry that keeps the referrers of the manifest's subject says so in
// OCI-Subject).
func (e *engine) putManifestHeader(ctx context.Context, s *session, ref string, raw []byte, mt types.MediaType, want v1.Hash) (http.Header, error) {
	resp, err := e.do(ctx, s, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, repoURL(s.repo, "/manifests/"+ref), &countingBody{r: bytes.NewReader(raw)})
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(raw))
		req.Header.Set("Content-Type", string(mt))
		return req, nil
	}, http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return nil, e.manifestError(s, ref, raw, err)
	}
	drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want.String() {
		return nil, fmt.Errorf("%w: pushing %s: we computed %s, the registry answered %s", ErrDigestMismatch, refString(s.repo, ref), want, got)
	}
	return resp.Header, nil
}

// manifestTypes are the media types a manifest HEAD or GET accepts.
var manifestTypes = strings.Join([]string{
	string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList),
}, ", ")

// headManifest returns the digest ref (a tag or a digest) points to in the
// session's repository; found is false when the registry has no such
// manifest.
func (e *engine) headManifest(ctx context.Context, s *session, ref string) (d v1.Hash, found bool, err error) {
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		resp, err := e.do(ctx, s, func() (*http.Request, error) {
			return manifestRequest(ctx, s, method, ref, manifestTypes)
		}, http.StatusOK, http.StatusNotFound)
		if err != nil {
			return v1.Hash{}, false, err
		}
		if resp.StatusCode == http.StatusNotFound {
			drain(resp)
			return v1.Hash{}, false, nil
		}
		if h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest")); err == nil {
			drain(resp)
			return h, true, nil
		}
		if method == http.MethodGet {
			// No digest header: hash what the registry serves.
			defer resp.Body.Close()
			h, _, err := v1.SHA256(io.LimitReader(resp.Body, 64<<20))
			return h, err == nil, err
		}
		drain(resp)
	}
	return v1.Hash{}, false, nil
}

// manifestRequest is a HEAD or GET of the manifest ref (a tag or a digest)
// in the session's repository, accepting the media types accept lists.
func manifestRequest(ctx context.Context, s *session, method, ref, accept string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, repoURL(s.repo, "/manifests/"+ref), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return req, nil
}

// peekTag asks once, with a HEAD and no retry, which digest tag points at
// in the session's repository; found is false when the answer settles
// nothing (no such tag, no digest in the answer, a failure), and the
// caller then asks the way it would have without it.
func (e *engine) peekTag(ctx context.Context, s *session, tag string) (d v1.Hash, found bool) {
	c, err := e.open(s)
	if err != nil {
		return v1.Hash{}, false
	}
	req, err := manifestRequest(ctx, s, http.MethodHead, tag, manifestTypes)
	if err != nil {
		return v1.Hash{}, false
	}
	resp, err := e.send(c, req, http.StatusOK)
	if err != nil {
		return v1.Hash{}, false
	}
	drain(resp)
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	return h, err == nil
}

// refString names ref in repo for messages: REPO:TAG or REPO@DIGEST.
func refString(repo name.Repository, ref string) string {
	if strings.Contains(ref, ":") {
		return repo.String() + "@" + ref
	}
	return repo.String() + ":" + ref
}

// maxManifest bounds what a manifest GET reads (the distribution spec lets
// registries refuse manifests over 4 MiB; 64 MiB leaves room).
const maxManifest = 64 << 20

// getManifest reads the manifest ref (a tag or a digest) points to in the
// session's repository: its bytes, media type and digest. A digest ref is
// checked against the bytes (ErrDigestMismatch). found is false when the
// registry has no such manifest.
func (e *engine) getManifest(ctx context.Context, s *session, ref string, accept string) (raw []byte, desc v1.Descriptor, found bool, err error) {
	resp, err := e.do(ctx, s, func() (*http.Request, error) {
		return manifestRequest(ctx, s, http.MethodGet, ref, accept)
	}, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return nil, v1.Descriptor{}, false, err
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return nil, v1.Descriptor{}, false, nil
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, v1.Descriptor{}, false, err
	}
	if len(raw) > maxManifest {
		return nil, v1.Descriptor{}, false, fmt.Errorf("the manifest %s is larger than %d bytes", refString(s.repo, ref), maxManifest)
	}
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	if want, err := v1.NewHash(ref); err == nil && want != h {
		return nil, v1.Descriptor{}, false, fmt.Errorf("%w: the registry served %s with digest %s", ErrDigestMismatch, refString(s.repo, ref), h)
	}
	mt := types.MediaType(resp.Header.Get("Content-Type"))
	if i := strings.IndexByte(string(mt), ';'); i >= 0 {
		mt = types.MediaType(strings.TrimSpace(string(mt[:i])))
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(raw, &m) == nil && m.MediaType != "" {
		mt = m.MediaType
	}
	return raw, v1.Descriptor{MediaType: mt, Size: size, Digest: h}, true, nil
}

// getBlob reads a small blob (at most max bytes) from the session's
// repository and checks its digest. found is false when the registry has
// no such blob.
func (e *engine) getBlob(ctx context.Context, s *session, d v1.Hash, max int64) (data []byte, found bool, err error) {
	resp, err := e.do(ctx, s, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, repoURL(s.repo, "/blobs/"+d.String()), nil)
	}, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return nil, false, nil
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > max {
		return nil, false, fmt.Errorf("blob %s in %s is larger than %d bytes", d, s.repo, max)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(data)); h != d {
		return nil, false, fmt.Errorf("%w: %s served blob %s with digest %s", ErrDigestMismatch, s.repo, d, h)
	}
	return data, true, nil
}
