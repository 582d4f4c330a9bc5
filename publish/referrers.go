package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI 1.1 referrers: an artifact (an image manifest whose "subject" names
// another manifest, with an "artifactType") refers to the manifest it is
// about, such as a signature or an SBOM refers to an image. A registry
// that implements the referrers API lists them (GET
// /v2/NAME/referrers/DIGEST) and says so when such a manifest is pushed
// (the OCI-Subject header of its answer); for any other registry the
// client keeps the list itself, as an image index tagged sha256-HEX (the
// referrers tag schema). See the distribution spec, "Pushing Manifests
// with Subject", "Listing Referrers" and "Referrers Tag Schema", and the
// image spec's "Guidelines for Artifact Usage".
//
// Attach writes through the upload engine like every other write; reads
// (Referrers, FetchReferrer) go through it too, in sessions that only ask
// for pull access. go-containerregistry's remote.Referrers also reads both
// mechanisms, but does not say which one answered, which a verifier that
// must say where each signature was found needs.

// EmptyJSON is the media type of the empty JSON config ("{}") of an
// artifact that has no config of its own (image spec, "Guidance for an
// Empty Descriptor").
const EmptyJSON types.MediaType = "application/vnd.oci.empty.v1+json"

// emptyJSON is the content of the empty config.
var emptyJSON = []byte("{}")

// MaxReferrerBlob bounds the size of one blob of a referrer that
// FetchReferrer reads into memory.
const MaxReferrerBlob = 64 << 20

// ErrReferrer is matched (errors.Is) by a ReferrerError: a referrers index
// that is malformed, a referrer whose manifest or blobs are missing or
// lie.
var ErrReferrer = errors.New("invalid referrer")

// ReferrerError says what is wrong with a referrer or a referrers index,
// of which subject, and where it was found.
type ReferrerError struct {
	Subject  name.Digest
	Referrer v1.Hash // zero for the index as a whole
	Where    string  // the list that named it: see Listed.Source
	Err      error
}

func (e *ReferrerError) Error() string {
	if e.Referrer == (v1.Hash{}) {
		return fmt.Sprintf("the referrers of %s (%s): %v", e.Subject, e.Where, e.Err)
	}
	return fmt.Sprintf("referrer %s of %s (listed by %s): %v", e.Referrer, e.Subject, e.Where, e.Err)
}
func (e *ReferrerError) Unwrap() []error { return []error{ErrReferrer, e.Err} }

// Mechanism is how a registry keeps the referrers of a manifest.
type Mechanism string

const (
	// ReferrersAPI: the registry lists referrers itself (GET
	// /v2/NAME/referrers/DIGEST).
	ReferrersAPI Mechanism = "referrers API"
	// TagSchema: the client keeps an image index at the tag sha256-HEX of
	// the subject, listing its referrers.
	TagSchema Mechanism = "tag schema"
)

// Referrer is an artifact to attach to a subject: its blobs and the
// annotations of its manifest.
type Referrer struct {
	// ArtifactType is the manifest's artifactType, how lists select it,
	// such as "application/vnd.dev.sigstore.bundle.v0.3+json".
	ArtifactType string
	// Config is the config blob; nil is the empty JSON config (EmptyJSON,
	// "{}"), whose descriptor then also carries ArtifactType, as cosign
	// v3 writes it.
	Config *Blob
	// Layers are the artifact's blobs, in order.
	Layers []Blob
	// Annotations of the manifest; they are copied into the referrers
	// list.
	Annotations map[string]string
}

// Blob is a small blob held in memory, with its descriptor's media type
// and annotations.
type Blob struct {
	MediaType   types.MediaType
	Data        []byte
	Annotations map[string]string
}

func (b Blob) descriptor() v1.Descriptor {
	h, size, _ := v1.SHA256(bytes.NewReader(b.Data))
	return v1.Descriptor{MediaType: b.MediaType, Size: size, Digest: h, Annotations: b.Annotations}
}

// Manifest returns the image manifest of the referrer for subject, as
// Attach writes it.
func (a *Referrer) Manifest(subject v1.Descriptor) ([]byte, error) {
	if a.ArtifactType == "" {
		return nil, fmt.Errorf("a referrer needs an artifact type")
	}
	cfg := Blob{MediaType: EmptyJSON, Data: emptyJSON}
	if a.Config != nil {
		cfg = *a.Config
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        cfg.descriptor(),
		Layers:        []v1.Descriptor{},
		Annotations:   a.Annotations,
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		ArtifactType:  a.ArtifactType,
	}
	if a.Config == nil {
		m.Config.ArtifactType = a.ArtifactType
	}
	for _, l := range a.Layers {
		m.Layers = append(m.Layers, l.descriptor())
	}
	return json.Marshal(m)
}

// Attached says where Attach put a referrer.
type Attached struct {
	// Ref is the referrer's manifest, by digest, in the subject's
	// repository.
	Ref name.Digest
	// Descriptor is the referrer as the subject's referrers list shows it.
	Descriptor v1.Descriptor
	// Mechanism is how the registry keeps the list.
	Mechanism Mechanism
	// Index is the referrers index written for the tag schema (a digest
	// reference; also tagged sha256-HEX); nil for the referrers API.
	Index *name.Digest
}

// Attach writes a as a referrer of subject (a manifest digest in its
// repository): its blobs, then its manifest, with subject and
// artifactType, by digest. When the registry answers the manifest's PUT
// with an OCI-Subject header it keeps the referrers list itself;
// otherwise Attach adds the referrer to the subject's tag-schema index
// (read, add, write; the other entries are kept, and a referrer already
// listed is not listed twice). A tag that holds something other than an
// OCI image index is not overwritten: that is a ReferrerError.
func (r *Registry) Attach(ctx context.Context, subject name.Digest, a *Referrer) (*Attached, error) {
	e := newEngine(ctx, r, &pushStats{})
	s := e.session(subject.Repository)
	_, sdesc, found, err := e.getManifest(ctx, s, subject.DigestStr(), manifestTypes)
	if err != nil {
		return nil, r.explain(err, "reading", subject.String())
	}
	if !found {
		return nil, fmt.Errorf("attaching to %s: the registry has no such manifest", subject)
	}
	raw, err := a.Manifest(sdesc)
	if err != nil {
		return nil, fmt.Errorf("attaching to %s: %w", subject, err)
	}
	cfg := Blob{MediaType: EmptyJSON, Data: emptyJSON}
	if a.Config != nil {
		cfg = *a.Config
	}
	for _, b := range append([]Blob{cfg}, a.Layers...) {
		if err := e.putBytes(ctx, s, b.Data, nil); err != nil {
			return nil, r.explain(err, "uploading a blob of a referrer to", subject.Repository.String())
		}
	}
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: size, Digest: h, ArtifactType: a.ArtifactType, Annotations: a.Annotations}
	ref := subject.Context().Digest(h.String())
	mech, index, err := r.putReferrer(ctx, e, s, subject, raw, desc)
	if err != nil {
		return nil, err
	}
	return &Attached{Ref: ref, Descriptor: desc, Mechanism: mech, Index: index}, nil
}

// putReferrer PUTs a referrer manifest (desc, raw) of subject by digest,
// then updates the tag-schema index unless the registry keeps the list.
func (r *Registry) putReferrer(ctx context.Context, e *engine, s *session, subject name.Digest, raw []byte, desc v1.Descriptor) (Mechanism, *name.Digest, error) {
	ref := s.repo.Digest(desc.Digest.String())
	hdr, err := e.putManifestHeader(ctx, s, desc.Digest.String(), raw, desc.MediaType, desc.Digest)
	if err != nil {
		return "", nil, r.explain(err, "pushing the referrer", ref.String())
	}
	if hdr.Get("OCI-Subject") == subject.DigestStr() {
		return ReferrersAPI, nil, nil
	}
	index, err := r.addToTagSchema(ctx, e, s, subject, desc)
	if err != nil {
		return "", nil, err
	}
	return TagSchema, index, nil
}

// tagLocks serialise the read-modify-write of one tag-schema index within
// this process (registries without the referrers API have no conditional
// PUT to do it across processes).
var tagLocks sync.Map // "repo:tag" -> *sync.Mutex

func lockTag(t name.Tag) func() {
	m, _ := tagLocks.LoadOrStore(t.String(), &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// FallbackTag is the tag of subject's referrers index in the tag schema:
// sha256-HEX in subject's repository.
func FallbackTag(subject name.Digest) name.Tag {
	return subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1))
}

// addToTagSchema adds desc (a referrer of subject) to subject's tag-schema
// index in s's repository and returns the index written.
func (r *Registry) addToTagSchema(ctx context.Context, e *engine, s *session, subject name.Digest, add ...v1.Descriptor) (*name.Digest, error) {
	subject = s.repo.Digest(subject.DigestStr())
	tag := FallbackTag(subject)
	defer lockTag(tag)()
	where := fmt.Sprintf("the tag-schema index %s", tag)
	raw, desc, found, err := e.getManifest(ctx, s, tag.TagStr(), string(types.OCIImageIndex)+", "+manifestTypes)
	if err != nil {
		return nil, r.explain(err, "reading", tag.String())
	}
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	if found {
		if im, err = parseReferrersIndex(raw, desc.MediaType); err != nil {
			return nil, &ReferrerError{Subject: subject, Where: where, Err: fmt.Errorf("%w; not overwriting it", err)}
		}
	}
	changed := false
	for _, d := range add {
		if slices.ContainsFunc(im.Manifests, func(x v1.Descriptor) bool { return x.Digest == d.Digest }) {
			continue
		}
		im.Manifests = append(im.Manifests, d)
		changed = true
	}
	h := desc.Digest
	if changed || !found {
		out, err := json.Marshal(im)
		if err != nil {
			return nil, err
		}
		h, _, _ = v1.SHA256(bytes.NewReader(out))
		if err := e.putManifest(ctx, s, tag.TagStr(), out, types.OCIImageIndex, h); err != nil {
			return nil, r.explain(err, "updating the referrers index", tag.String())
		}
	}
	d := s.repo.Digest(h.String())
	return &d, nil
}

// parseReferrersIndex reads a referrers list: an OCI image index whose
// entries each name a manifest by a valid digest, with a media type and a
// size.
func parseReferrersIndex(raw []byte, mt types.MediaType) (*v1.IndexManifest, error) {
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		return nil, fmt.Errorf("malformed referrers index: %v", err)
	}
	if im.MediaType == "" {
		im.MediaType = mt
	}
	if im.SchemaVersion != 2 || im.MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("malformed referrers index: schemaVersion %d, mediaType %q; want an OCI image index (2, %s)", im.SchemaVersion, im.MediaType, types.OCIImageIndex)
	}
	for i, d := range im.Manifests {
		if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 {
			return nil, fmt.Errorf("malformed referrers index: entry %d has digest %q", i, d.Digest)
		}
		if d.MediaType == "" || d.Size <= 0 {
			return nil, fmt.Errorf("malformed referrers index: entry %d (%s) has no media type or size", i, d.Digest)
		}
	}
	return &im, nil
}

// Listed is one referrer of a subject as a referrers list names it.
type Listed struct {
	v1.Descriptor
	// Mechanism is the list that named it.
	Mechanism Mechanism
	// Source names that list for messages: "the referrers API (GET
	// /v2/REPO/referrers/DIGEST)", or "the tag-schema index REPO:sha256-HEX
	// (sha256:…)".
	Source string
}

// ReferrerList is what Referrers found.
type ReferrerList struct {
	Subject name.Digest
	// Mechanism is the list that was read: the referrers API when the
	// registry answers it, else the tag schema.
	Mechanism Mechanism
	// Source names it (see Listed.Source).
	Source string
	// Index is the tag-schema index read (nil when there is none, or for
	// the referrers API).
	Index *name.Digest
	// Referrers are the entries, in the order of the list, filtered by
	// artifact type when one was asked for.
	Referrers []Listed
}

// Referrers lists the referrers of subject: from the referrers API (GET
// /v2/NAME/referrers/DIGEST, following pagination) when the registry
// answers it with an OCI image index, else from the tag-schema index
// (none there is an empty list). artifactType, when not empty, keeps the
// entries of that artifact type. A list that is not a well-formed OCI
// image index is a ReferrerError naming where it was read; a registry that
// cannot be reached is its own error (see HostError), never an empty list.
func (r *Registry) Referrers(ctx context.Context, subject name.Digest, artifactType string) (*ReferrerList, error) {
	e := newEngine(ctx, r, &pushStats{})
	s := e.readSession(subject.Repository)
	list, err := r.referrersAPI(ctx, e, s, subject, artifactType)
	if err != nil {
		return nil, err
	}
	if list == nil {
		if list, err = r.referrersTag(ctx, e, s, subject); err != nil {
			return nil, err
		}
	}
	if artifactType != "" {
		list.Referrers = slices.DeleteFunc(list.Referrers, func(l Listed) bool { return !mayBe(l, artifactType) })
	}
	return list, nil
}

// mayBe reports whether l may be of artifactType: it says so, or it is
// listed with the empty config's media type, which cosign v2.6 writes into
// the tag-schema index for every artifact (it lists the config's media
// type, not the manifest's artifactType); FetchReferrer then reads the
// manifest's.
func mayBe(l Listed, artifactType string) bool {
	return l.ArtifactType == artifactType || (l.ArtifactType == string(EmptyJSON) && artifactType != string(EmptyJSON))
}

// referrersAPI reads the referrers API; nil when the registry does not
// serve it.
func (r *Registry) referrersAPI(ctx context.Context, e *engine, s *session, subject name.Digest, artifactType string) (*ReferrerList, error) {
	path := "/v2/" + s.repo.RepositoryStr() + "/referrers/" + subject.DigestStr()
	where := "the referrers API (GET " + path + ")"
	list := &ReferrerList{Subject: subject, Mechanism: ReferrersAPI, Source: where, Referrers: []Listed{}}
	next := repoURL(s.repo, "/referrers/"+subject.DigestStr())
	if artifactType != "" {
		next += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	for page := 0; next != ""; page++ {
		if page > 100 {
			return nil, &ReferrerError{Subject: subject, Where: where, Err: errors.New("more than 100 pages")}
		}
		u := next
		resp, err := e.do(ctx, s, func() (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Accept", string(types.OCIImageIndex))
			return req, nil
		}, http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusNotImplemented)
		if err != nil {
			return nil, r.explain(err, "listing the referrers of", subject.String())
		}
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, string(types.OCIImageIndex)) {
			drain(resp)
			if page == 0 {
				return nil, nil // no referrers API here
			}
			return nil, &ReferrerError{Subject: subject, Where: where, Err: fmt.Errorf("page %d answered HTTP %d %s", page+1, resp.StatusCode, ct)}
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
		resp.Body.Close()
		if err != nil {
			return nil, r.explain(err, "listing the referrers of", subject.String())
		}
		im, err := parseReferrersIndex(raw, types.OCIImageIndex)
		if err != nil {
			return nil, &ReferrerError{Subject: subject, Where: where, Err: err}
		}
		for _, d := range im.Manifests {
			list.Referrers = append(list.Referrers, Listed{Descriptor: d, Mechanism: ReferrersAPI, Source: where})
		}
		next = nextLink(resp.Header.Get("Link"), u)
	}
	return list, nil
}

// nextLink reads the next page's URL from a Link header (`<URL>;
// rel="next"`), resolved against the current page's URL.
func nextLink(h, base string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		b, err := url.Parse(base)
		if err != nil {
			return ""
		}
		u, err := b.Parse(target)
		if err != nil {
			return ""
		}
		return u.String()
	}
	return ""
}

// referrersTag reads the tag-schema index.
func (r *Registry) referrersTag(ctx context.Context, e *engine, s *session, subject name.Digest) (*ReferrerList, error) {
	tag := FallbackTag(subject)
	raw, desc, found, err := e.getManifest(ctx, s, tag.TagStr(), string(types.OCIImageIndex)+", "+manifestTypes)
	if err != nil {
		return nil, r.explain(err, "reading", tag.String())
	}
	where := fmt.Sprintf("the tag-schema index %s", tag)
	list := &ReferrerList{Subject: subject, Mechanism: TagSchema, Source: where, Referrers: []Listed{}}
	if !found {
		return list, nil
	}
	where = fmt.Sprintf("the tag-schema index %s (%s)", tag, desc.Digest)
	list.Source = where
	idx := s.repo.Digest(desc.Digest.String())
	list.Index = &idx
	im, err := parseReferrersIndex(raw, desc.MediaType)
	if err != nil {
		return nil, &ReferrerError{Subject: subject, Where: where, Err: err}
	}
	for _, d := range im.Manifests {
		list.Referrers = append(list.Referrers, Listed{Descriptor: d, Mechanism: TagSchema, Source: where})
	}
	return list, nil
}

// FetchedReferrer is a referrer read back, every part checked against its
// digest.
type FetchedReferrer struct {
	Listed
	// Ref is the referrer's manifest by digest.
	Ref name.Digest
	// Raw is its manifest as stored, Manifest the same parsed.
	Raw      []byte
	Manifest *v1.Manifest
	// Config and Layers are the blobs, in the manifest's order.
	Config []byte
	Layers [][]byte
}

// FetchReferrer reads the referrer l of subject (as Referrers listed it):
// its manifest and every blob, each checked against its digest and size.
// The manifest must be an image manifest whose subject is subject and whose
// artifact type (artifactType, else the config's media type) is the one
// the list gave (or the list gave its config's media type, as cosign v2.6
// does); the result's ArtifactType is the manifest's. Anything else, a missing manifest or blob included, is a
// ReferrerError naming the subject, the referrer and the list.
func (r *Registry) FetchReferrer(ctx context.Context, subject name.Digest, l Listed) (*FetchedReferrer, error) {
	fail := func(format string, args ...any) error {
		return &ReferrerError{Subject: subject, Referrer: l.Digest, Where: l.Source, Err: fmt.Errorf(format, args...)}
	}
	e := newEngine(ctx, r, &pushStats{})
	s := e.readSession(subject.Repository)
	raw, desc, found, err := e.getManifest(ctx, s, l.Digest.String(), string(types.OCIManifestSchema1)+", "+manifestTypes)
	if errors.Is(err, ErrDigestMismatch) {
		return nil, fail("%v", err)
	}
	if err != nil {
		return nil, r.explain(err, "reading the referrer", subject.Context().Digest(l.Digest.String()).String())
	}
	if !found {
		return nil, fail("the registry has no such manifest")
	}
	if l.Size != 0 && desc.Size != l.Size {
		return nil, fail("the manifest has %d bytes, the list says %d", desc.Size, l.Size)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fail("malformed manifest: %v", err)
	}
	if m.MediaType != "" && m.MediaType != types.OCIManifestSchema1 {
		return nil, fail("its media type is %s, not an OCI image manifest", m.MediaType)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() {
		got := "none"
		if m.Subject != nil {
			got = m.Subject.Digest.String()
		}
		return nil, fail("its subject is %s, not %s", got, subject.DigestStr())
	}
	at := m.ArtifactType
	if at == "" {
		at = string(m.Config.MediaType)
	}
	// A list that gives the config's media type for an artifact that has
	// an artifactType is cosign v2.6's tag schema (see mayBe), not a lie.
	if l.ArtifactType != "" && l.ArtifactType != at && l.ArtifactType != string(m.Config.MediaType) {
		return nil, fail("the list gives artifact type %q, the manifest says %q", l.ArtifactType, at)
	}
	f := &FetchedReferrer{Listed: l, Ref: subject.Context().Digest(l.Digest.String()), Raw: raw, Manifest: &m}
	f.ArtifactType = at
	read := func(what string, d v1.Descriptor) ([]byte, error) {
		if d.Size > MaxReferrerBlob || d.Size < 0 {
			return nil, fail("its %s %s has %d bytes, more than the %d read", what, d.Digest, d.Size, MaxReferrerBlob)
		}
		data, found, err := e.getBlob(ctx, s, d.Digest, d.Size)
		switch {
		case errors.Is(err, ErrDigestMismatch):
			return nil, fail("its %s: %v", what, err)
		case err != nil && !isRegistryError(err):
			return nil, fail("its %s %s: %v", what, d.Digest, err)
		case err != nil:
			return nil, r.explain(err, "reading "+what+" "+d.Digest.String()+" of", f.Ref.String())
		case !found:
			return nil, fail("its %s %s is missing from the registry", what, d.Digest)
		case int64(len(data)) != d.Size:
			return nil, fail("its %s %s has %d bytes, the manifest says %d", what, d.Digest, len(data), d.Size)
		}
		return data, nil
	}
	if f.Config, err = read("config", m.Config); err != nil {
		return nil, err
	}
	for i, ld := range m.Layers {
		data, err := read(fmt.Sprintf("layer %d", i), ld)
		if err != nil {
			return nil, err
		}
		f.Layers = append(f.Layers, data)
	}
	return f, nil
}

// isRegistryError reports whether err came from talking to the registry
// (an HTTP status, a network failure), rather than from what it served.
func isRegistryError(err error) bool {
	var se *statusError
	return errors.As(err, &se) || retryable(err) || errors.Is(err, context.Canceled)
}

// putBytes puts a blob held in memory in s's repository unless it is
// there (a HEAD), mounting it from mount when that is set.
func (e *engine) putBytes(ctx context.Context, s *session, data []byte, mount *name.Repository) error {
	d, size, _ := v1.SHA256(bytes.NewReader(data))
	found, err := e.headBlob(ctx, s, d)
	if err != nil {
		return err
	}
	if found {
		return nil
	}
	b := e.newBlobUpload(s, d, size, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, e.policyFor(s.repo.RegistryStr()))
	b.mount = mount
	return b.run(ctx, true)
}
