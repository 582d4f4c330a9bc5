package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// signedIndex pushes a two-platform index to repo:v1 with referrers: a
// signature of the index and of its first manifest, an SBOM of the index
// and a signature of that SBOM, and a legacy .sig tag. It returns the
// index and every referrer's digest.
func signedIndex(t *testing.T, r *publish.Registry, repo string) (name.Digest, []v1.Hash) {
	t.Helper()
	ctx := context.Background()
	res := newImage(t, builder.WithPlatforms(v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}))
	pr, err := r.Push(ctx, res.Artifact(), tags(t, r, repo+":v1"))
	if err != nil {
		t.Fatal(err)
	}
	idx := pr.Refs[0]
	im, _ := res.Index.IndexManifest()
	child := idx.Context().Digest(im.Manifests[0].Digest.String())
	var refs []v1.Hash
	attach := func(subject name.Digest, a *publish.Referrer) name.Digest {
		got, err := r.Attach(ctx, subject, a)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, got.Descriptor.Digest)
		return got.Ref
	}
	attach(idx, referrer(bundleType, "signature of the index"))
	attach(child, referrer(bundleType, "signature of a platform manifest"))
	sbom := attach(idx, referrer("application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`))
	attach(sbom, referrer(bundleType, "signature of the SBOM"))
	// A legacy signature: an image at sha256-<hex>.sig.
	sig, _ := mutate.AppendLayers(empty.Image, static.NewLayer([]byte(`{"critical":{}}`), "application/vnd.dev.cosign.simplesigning.v1+json"))
	sigTag := tags(t, r, repo+":"+strings.Replace(idx.DigestStr(), ":", "-", 1)+".sig")
	if _, err := r.Push(ctx, sig, sigTag); err != nil {
		t.Fatal(err)
	}
	return idx, refs
}

// referrerDigests lists every referrer of d, its children's and its
// referrers', recursively.
func referrerDigests(t *testing.T, r *publish.Registry, d name.Digest) []v1.Hash {
	t.Helper()
	ctx := context.Background()
	var out []v1.Hash
	var walk func(d name.Digest)
	walk = func(d name.Digest) {
		list, err := r.Referrers(ctx, d, "")
		if err != nil {
			t.Fatalf("Referrers(%s) = %v", d, err)
		}
		for _, l := range list.Referrers {
			if _, err := r.FetchReferrer(ctx, d, l); err != nil {
				t.Errorf("FetchReferrer() = %v", err)
			}
			out = append(out, l.Digest)
			walk(d.Context().Digest(l.Digest.String()))
		}
	}
	walk(d)
	desc, err := remote.Get(d)
	if err == nil && desc.MediaType.IsIndex() {
		idx, _ := desc.ImageIndex()
		im, _ := idx.IndexManifest()
		for _, m := range im.Manifests {
			walk(d.Context().Digest(m.Digest.String()))
		}
	}
	slices.SortFunc(out, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func sorted(hs []v1.Hash) []v1.Hash {
	out := slices.Clone(hs)
	slices.SortFunc(out, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// TestCopy promotes a signed index between registries, each way between a
// registry with the referrers API and one without, and between
// repositories of one registry (blobs mounted): same digest, every
// referrer and the legacy tag, the destination tag last.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	plain, api := testregistry.New(t), testregistry.New(t, testregistry.WithReferrers())
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	for _, tc := range []struct{ name, from, to string }{
		{"tag schema to referrers API", plain + "/staging/site", api + "/prod/site"},
		{"referrers API to tag schema", api + "/staging/site", plain + "/prod/site"},
		{"same registry", plain + "/staging/mounted", plain + "/prod/mounted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, refs := signedIndex(t, r, tc.from)
			dst, err := name.NewRepository(tc.to, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Copy(ctx, src.Context().Tag("v1"), dst, "v1")
			if err != nil {
				t.Fatalf("Copy() = %v", err)
			}
			if res.Destination.String() != tc.to+"@"+src.DigestStr() || res.Referrers != 5 {
				t.Errorf("Copy() = %+v", res)
			}
			if d, err := remote.Head(dst.Tag("v1")); err != nil || d.Digest.String() != src.DigestStr() {
				t.Errorf("destination tag: %v %v", d, err)
			}
			got := referrerDigests(t, r, res.Destination)
			if !slices.Equal(got, sorted(refs)) {
				t.Errorf("destination referrers %v, want %v", got, sorted(refs))
			}
			legacy := dst.Tag(strings.Replace(src.DigestStr(), ":", "-", 1) + ".sig")
			want, _ := remote.Head(src.Context().Tag(legacy.TagStr()))
			if d, err := remote.Head(legacy); err != nil || d.Digest != want.Digest {
				t.Errorf("legacy tag %s: %v %v", legacy, d, err)
			}
			// (go-containerregistry's registry shares blobs between
			// repositories: nothing to mount or send. The e2e tests mount
			// in Debian's docker-registry.)
			if tc.name == "tag schema to referrers API" && res.SentBytes == 0 { // the first: the blobs are nowhere yet
				t.Errorf("nothing was sent between registries: %+v", res)
			}
			if tc.name == "same registry" && (res.SentBytes != 0 || res.MountedBlobs+res.SkippedBlobs == 0) {
				t.Errorf("blobs were sent within one registry: %+v", res)
			}
			// Copying again sends nothing and changes nothing.
			again, err := r.Copy(ctx, src, dst, "v1")
			if err != nil || again.SentBytes != 0 || !slices.Equal(referrerDigests(t, r, res.Destination), got) {
				t.Errorf("second Copy() = %+v, %v", again, err)
			}
		})
	}
}

// TestCopyRefused: a registry that refuses the second referrer leaves no
// tag at the destination (neither the image's nor a referrers index), and
// the error says what was copied.
func TestCopyRefused(t *testing.T) {
	ctx := context.Background()
	var referrers atomic.Int32
	src := testregistry.New(t)
	dstHost := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
				body, _ := io.ReadAll(req.Body)
				req.Body = io.NopCloser(bytes.NewReader(body))
				if bytes.Contains(body, []byte(`"subject"`)) && referrers.Add(1) == 2 {
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`{"errors":[{"code":"DENIED","message":"artifact manifests are not allowed"}]}`))
					return
				}
			}
			next.ServeHTTP(w, req)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	from, _ := signedIndex(t, r, src+"/staging/site")
	dst, _ := name.NewRepository(dstHost+"/prod/site", name.Insecure)
	_, err := r.Copy(ctx, from, dst, "v1")
	var ce *publish.CopyError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "artifact manifests are not allowed") ||
		!strings.Contains(err.Error(), "copied by digest, untagged: image ") || !strings.Contains(err.Error(), "no tag was written in "+dst.String()) {
		t.Fatalf("Copy() = %v", err)
	}
	if len(ce.Copied) == 0 || ce.Copied[0].Kind != "image" {
		t.Errorf("copied %+v", ce.Copied)
	}
	if _, err := remote.Head(dst.Tag("v1")); err == nil {
		t.Error("the destination tag was written")
	}
	if _, err := remote.Head(publish.FallbackTag(dst.Digest(from.DigestStr()))); err == nil {
		t.Error("a referrers index was written")
	}
	if _, err := remote.Head(dst.Tag(strings.Replace(from.DigestStr(), ":", "-", 1) + ".sig")); err == nil {
		t.Error("the legacy tag was written")
	}
}

// TestCopyBadSource: a malformed referrers list at the source stops the
// copy before anything is written.
func TestCopyBadSource(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	from := pushSubject(t, r, host+"/staging/bad")
	putRaw(t, from.Repository, publish.FallbackTag(from).TagStr(), types.OCIManifestSchema1,
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"x","size":1,"digest":"sha256:1"}]}`))
	dst, _ := name.NewRepository(host+"/prod/bad", name.Insecure)
	_, err := r.Copy(ctx, from, dst, "v1")
	if !errors.Is(err, publish.ErrReferrer) || !strings.Contains(err.Error(), from.String()) {
		t.Errorf("Copy() = %v, want a ReferrerError naming the source", err)
	}
	if _, err := remote.Head(dst.Digest(from.DigestStr())); err == nil {
		t.Error("the image was copied")
	}
}
