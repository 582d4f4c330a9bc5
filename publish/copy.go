package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Copy (promotion): an image or index moves to another repository or
// registry by digest, with everything that refers to it, so that what was
// verified in staging verifies in production. Everything goes through the
// upload engine: blobs are mounted from the source repository when both are
// on the same registry, else streamed from one registry to the other
// (resumed like any upload), each checked against its digest; manifests are
// PUT by digest, children before their index, subjects before their
// referrers. Tags come last: the destination's tag-schema indexes, the
// legacy signature tags, then the destination tag. A failure before that
// leaves the destination without any tag pointing at an incomplete set,
// and the error says what was copied.

// LegacyTagSuffixes are the suffixes of cosign's legacy tags that Copy
// carries over: signatures, attestations and attached SBOMs
// (sha256-<hex>.sig, .att, .sbom).
var LegacyTagSuffixes = []string{".sig", ".att", ".sbom"}

// maxReferrerDepth bounds how deep Copy follows referrers of referrers (a
// signature of an SBOM is depth 2).
const maxReferrerDepth = 4

// Copied is one manifest Copy put in the destination.
type Copied struct {
	// Kind is "image", "index", "referrer", "legacy tag" or "referrers
	// index".
	Kind string `json:"kind"`
	// Ref is the manifest in the destination, by digest.
	Ref string `json:"ref"`
	// ArtifactType is a referrer's artifact type.
	ArtifactType string `json:"artifactType,omitempty"`
	// Subject is the digest a referrer or legacy tag is about.
	Subject string `json:"subject,omitempty"`
	// Tag is the tag written, if any (legacy tags, referrers indexes, the
	// image's destination tag).
	Tag string `json:"tag,omitempty"`
}

// CopyResult is what Copy did.
type CopyResult struct {
	// Source is what was copied, by digest (a tag is resolved once).
	Source name.Digest `json:"-"`
	// Destination is the copy, by digest: the same digest.
	Destination name.Digest `json:"-"`
	// Tag is the destination tag written, if one was asked for.
	Tag string `json:"tag,omitempty"`
	// Copied lists every manifest put in the destination, in order.
	Copied []Copied `json:"copied"`
	// Referrers counts the referrers and legacy tags copied.
	Referrers int `json:"referrers"`
	// SentBytes counts blob bytes uploaded; MountedBlobs and SkippedBlobs
	// the blobs mounted from the source repository or already there.
	SentBytes                  int64 `json:"sentBytes"`
	MountedBlobs, SkippedBlobs int   `json:"-"`
}

// CopyError is a copy that stopped half-way: Err says why, Copied what is in
// the destination by digest. No tag was written.
type CopyError struct {
	Source, Destination string
	Copied              []Copied
	Err                 error
}

func (e *CopyError) Error() string {
	var done []string
	for _, c := range e.Copied {
		done = append(done, c.Kind+" "+c.Ref)
	}
	what := "nothing"
	if len(done) > 0 {
		what = strings.Join(done, ", ")
	}
	return fmt.Sprintf("copying %s to %s: %v; copied by digest, untagged: %s; no tag was written in %s",
		e.Source, e.Destination, e.Err, what, e.Destination)
}
func (e *CopyError) Unwrap() error { return e.Err }

// node is a manifest to copy: its bytes, and what it needs first.
type node struct {
	kind     string
	desc     v1.Descriptor
	raw      []byte
	subject  *v1.Hash        // a referrer's or legacy tag's subject
	tag      string          // a legacy tag's name
	children []*node         // an index's manifests
	blobs    []v1.Descriptor // an image's config and layers
	listed   v1.Descriptor   // a referrer as its list showed it
	copied   int             // its entry in CopyResult.Copied
}

// Copy copies src (a tag, resolved once, or a digest) to the repository
// dst, and points tag (when not empty) at it, with its referrers: OCI 1.1
// referrers of the image, of an index's manifests and of the referrers
// themselves (whether the source keeps them through the referrers API or
// the tag schema), and cosign's legacy .sig, .att and .sbom tags. Every
// manifest keeps its digest. In the destination, referrers are listed by
// its referrers API, or in tag-schema indexes that Copy merges with any
// already there.
//
// A source list or referrer that is malformed stops the copy before
// anything is written (a ReferrerError). A failure while writing is a
// *CopyError that lists what was copied; no tag is written then, so no tag
// in the destination points at an incomplete set.
func (r *Registry) Copy(ctx context.Context, src name.Reference, dst name.Repository, tag string) (*CopyResult, error) {
	var dstTag *name.Tag
	if tag != "" {
		t, err := r.ParseTag(dst.String() + ":" + tag)
		if err != nil {
			return nil, err
		}
		dstTag = &t
	}
	from, err := r.Resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	dstRepo := dst
	e := newEngine(ctx, r, &pushStats{})
	rs := e.readSession(from.Repository)
	h, _ := v1.NewHash(from.DigestStr())
	root, err := r.collectDepth(ctx, e, rs, h, "", 0)
	if err != nil {
		return nil, err
	}
	res := &CopyResult{Source: from, Destination: dstRepo.Digest(from.DigestStr())}
	if dstTag != nil {
		res.Tag = dstTag.String()
	}
	var ws *session
	var mount *name.Repository
	if from.RegistryStr() == dstRepo.RegistryStr() && from.RepositoryStr() != dstRepo.RepositoryStr() {
		mount = &from.Repository
		ws = e.session(dstRepo, from.Repository)
	} else {
		ws = e.session(dstRepo)
	}
	c := &copier{r: r, e: e, rs: rs, ws: ws, mount: mount, res: res, referrers: map[v1.Hash][]v1.Descriptor{}}
	fail := func(err error) error {
		return &CopyError{Source: from.String(), Destination: dstRepo.String(), Copied: res.Copied, Err: err}
	}
	// By digest: the image and everything that refers to it.
	if err := c.put(ctx, root); err != nil {
		return nil, fail(err)
	}
	// Then the tags.
	subjects := slices.SortedFunc(maps.Keys(c.referrers), func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	for _, subject := range subjects {
		idx, err := r.addToTagSchema(ctx, e, ws, dstRepo.Digest(subject.String()), c.referrers[subject]...)
		if err != nil {
			return nil, fail(err)
		}
		res.Copied = append(res.Copied, Copied{Kind: "referrers index", Ref: idx.String(), Subject: subject.String(),
			Tag: FallbackTag(dstRepo.Digest(subject.String())).String()})
	}
	for _, n := range c.legacy {
		t := dstRepo.Tag(n.tag)
		if err := e.putManifest(ctx, ws, n.tag, n.raw, n.desc.MediaType, n.desc.Digest); err != nil {
			return nil, fail(r.explain(err, "tagging", t.String()))
		}
		res.Copied[n.copied].Tag = t.String()
	}
	if dstTag != nil {
		res.Copied[root.copied].Tag = dstTag.String()
		if err := e.putManifest(ctx, ws, dstTag.TagStr(), root.raw, root.desc.MediaType, root.desc.Digest); err != nil {
			return nil, fail(r.explain(err, "tagging", dstTag.String()))
		}
		got, found, err := e.headManifest(ctx, ws, dstTag.TagStr())
		if err != nil {
			return nil, fail(r.explain(err, "reading back", dstTag.String()))
		}
		if !found || got != root.desc.Digest {
			return nil, fail(fmt.Errorf("%w: %s points to %s after the copy, not %s", ErrDigestMismatch, dstTag, got, root.desc.Digest))
		}
	}
	res.SentBytes = e.stats.sentBytes.Load()
	res.MountedBlobs, res.SkippedBlobs = int(c.mounted.Load()), int(c.skipped.Load())
	return res, nil
}

// collectDepth reads the manifest h from the source with its children,
// blobs and, to depth maxReferrerDepth, referrers and legacy tags.
func (r *Registry) collectDepth(ctx context.Context, e *engine, s *session, h v1.Hash, kind string, depth int) (*node, error) {
	ref := s.repo.Digest(h.String())
	raw, desc, found, err := e.getManifest(ctx, s, h.String(), string(types.OCIManifestSchema1)+", "+manifestTypes)
	if err != nil {
		return nil, r.explain(err, "reading", ref.String())
	}
	if !found {
		return nil, fmt.Errorf("reading %s: the registry has no such manifest", ref)
	}
	n := &node{kind: kind, desc: desc, raw: raw}
	switch {
	case desc.MediaType.IsIndex():
		if n.kind == "" {
			n.kind = "index"
		}
		var im v1.IndexManifest
		if err := json.Unmarshal(raw, &im); err != nil {
			return nil, fmt.Errorf("reading %s: malformed index: %v", ref, err)
		}
		for _, m := range im.Manifests {
			if !m.MediaType.IsDistributable() {
				continue
			}
			child, err := r.collectDepth(ctx, e, s, m.Digest, "image", depth)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
	default:
		if n.kind == "" {
			n.kind = "image"
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("reading %s: malformed manifest: %v", ref, err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if b.MediaType != "" && !b.MediaType.IsDistributable() {
				continue
			}
			n.blobs = append(n.blobs, b)
		}
	}
	if depth >= maxReferrerDepth {
		return n, nil
	}
	// What refers to this manifest: referrers, then legacy tags.
	list, err := r.Referrers(ctx, ref, "")
	if err != nil {
		return nil, err
	}
	for _, l := range list.Referrers {
		// Check the referrer as FetchReferrer does, without its blobs
		// (they are copied as a stream below).
		rn, err := r.collectDepth(ctx, e, s, l.Digest, "referrer", depth+1)
		if err != nil {
			return nil, err
		}
		var m v1.Manifest
		if err := json.Unmarshal(rn.raw, &m); err != nil || m.Subject == nil || m.Subject.Digest != h {
			return nil, &ReferrerError{Subject: ref, Referrer: l.Digest, Where: l.Source, Err: errors.New("its subject is not this manifest")}
		}
		at := m.ArtifactType
		if at == "" {
			at = string(m.Config.MediaType)
		}
		if l.ArtifactType != "" && l.ArtifactType != at && l.ArtifactType != string(m.Config.MediaType) {
			return nil, &ReferrerError{Subject: ref, Referrer: l.Digest, Where: l.Source,
				Err: fmt.Errorf("the list gives artifact type %q, the manifest says %q", l.ArtifactType, at)}
		}
		hh := h
		rn.subject = &hh
		rn.listed = v1.Descriptor{MediaType: rn.desc.MediaType, Size: rn.desc.Size, Digest: rn.desc.Digest, ArtifactType: at, Annotations: m.Annotations}
		n.children = append(n.children, rn)
	}
	for _, suffix := range LegacyTagSuffixes {
		tag := strings.Replace(h.String(), ":", "-", 1) + suffix
		d, found, err := e.headManifest(ctx, s, tag)
		if err != nil {
			return nil, r.explain(err, "reading", s.repo.Tag(tag).String())
		}
		if !found {
			continue
		}
		ln, err := r.collectDepth(ctx, e, s, d, "legacy tag", maxReferrerDepth)
		if err != nil {
			return nil, err
		}
		hh := h
		ln.subject, ln.tag = &hh, tag
		n.children = append(n.children, ln)
	}
	return n, nil
}

// copier puts nodes in the destination.
type copier struct {
	r         *Registry
	e         *engine
	rs, ws    *session
	mount     *name.Repository
	res       *CopyResult
	referrers map[v1.Hash][]v1.Descriptor // tag-schema entries to write, by subject
	legacy    []*node                     // legacy tags to write
	done      map[v1.Hash]bool

	mounted, skipped atomic.Int64
}

// put copies n: an image's blobs then its manifest, an index's images
// then the index; then what refers to n.
func (c *copier) put(ctx context.Context, n *node) error {
	if c.done == nil {
		c.done = map[v1.Hash]bool{}
	}
	dst := c.ws.repo.Digest(n.desc.Digest.String())
	var refs []*node
	for _, ch := range n.children {
		if ch.subject != nil {
			refs = append(refs, ch)
			continue
		}
		if err := c.put(ctx, ch); err != nil {
			return err
		}
	}
	if !c.done[n.desc.Digest] {
		if err := c.blobs(ctx, n); err != nil {
			return err
		}
		if n.kind == "referrer" {
			mech, _, err := c.putReferrerManifest(ctx, n)
			if err != nil {
				return err
			}
			if mech == TagSchema {
				c.referrers[*n.subject] = append(c.referrers[*n.subject], n.listed)
			}
		} else if err := c.e.putManifest(ctx, c.ws, n.desc.Digest.String(), n.raw, n.desc.MediaType, n.desc.Digest); err != nil {
			return c.r.explain(err, "pushing", dst.String())
		}
		c.done[n.desc.Digest] = true
		cp := Copied{Kind: n.kind, Ref: dst.String(), ArtifactType: n.listed.ArtifactType}
		if n.subject != nil {
			cp.Subject = n.subject.String()
			c.res.Referrers++
		}
		n.copied = len(c.res.Copied)
		if n.kind == "legacy tag" {
			c.legacy = append(c.legacy, n) // tagged at the end
		}
		c.res.Copied = append(c.res.Copied, cp)
	}
	for _, ref := range refs {
		if err := c.put(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// putReferrerManifest PUTs a referrer by digest; it reports whether the
// destination keeps the list (OCI-Subject) or the tag schema must.
func (c *copier) putReferrerManifest(ctx context.Context, n *node) (Mechanism, http.Header, error) {
	dst := c.ws.repo.Digest(n.desc.Digest.String())
	hdr, err := c.e.putManifestHeader(ctx, c.ws, n.desc.Digest.String(), n.raw, n.desc.MediaType, n.desc.Digest)
	if err != nil {
		return "", nil, c.r.explain(err, "pushing the referrer", dst.String())
	}
	if hdr.Get("OCI-Subject") == n.subject.String() {
		return ReferrersAPI, hdr, nil
	}
	return TagSchema, hdr, nil
}

// blobs puts n's blobs in the destination, at most the registry's job count
// at once: a HEAD, then a mount from the source repository (same registry)
// or a stream from the source, checked against the digest.
func (c *copier) blobs(ctx context.Context, n *node) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.r.jobs)
	for _, b := range n.blobs {
		g.Go(func() error {
			found, err := c.e.headBlob(ctx, c.ws, b.Digest)
			if err != nil {
				return c.r.explain(err, "checking blob "+b.Digest.String()+" in", c.ws.repo.String())
			}
			if found {
				c.skipped.Add(1)
				return nil
			}
			if err := c.r.checkBlob(c.ws.repo.RegistryStr(), b.Digest, b.Size); err != nil {
				return err
			}
			up := c.e.newBlobUpload(c.ws, b.Digest, b.Size, c.source(ctx, b), c.e.policyFor(c.ws.repo.RegistryStr()))
			up.mount = c.mount
			if err := up.run(ctx, true); err != nil {
				return c.r.explain(err, "copying blob "+b.Digest.String()+" to", c.ws.repo.String())
			}
			if up.mounted {
				c.mounted.Add(1)
			}
			return nil
		})
	}
	return g.Wait()
}

// source opens blob b in the source repository, checked against its
// digest as it is read.
func (c *copier) source(ctx context.Context, b v1.Descriptor) blobSource {
	return func() (io.ReadCloser, error) {
		resp, err := c.e.do(ctx, c.rs, func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, repoURL(c.rs.repo, "/blobs/"+b.Digest.String()), nil)
		}, http.StatusOK)
		if err != nil {
			return nil, c.r.explain(err, "reading blob "+b.Digest.String()+" of", c.rs.repo.String())
		}
		return &checkedReader{rc: resp.Body, h: sha256.New(), want: b.Digest, size: b.Size, repo: c.rs.repo.String()}, nil
	}
}

// checkedReader fails at the end of a blob whose bytes do not have its
// digest or size.
type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want v1.Hash
	size int64
	repo string
}

func (r *checkedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err == io.EOF {
		if got := "sha256:" + hex.EncodeToString(r.h.Sum(nil)); got != r.want.String() || r.n != r.size {
			return n, fmt.Errorf("%w: %s served blob %s as %d bytes with digest %s", ErrDigestMismatch, r.repo, r.want, r.n, got)
		}
	}
	return n, err
}

func (r *checkedReader) Close() error { return r.rc.Close() }
