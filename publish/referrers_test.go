package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// pushSubject pushes a small image and returns it by digest.
func pushSubject(t *testing.T, r *publish.Registry, repo string) name.Digest {
	t.Helper()
	pr, err := r.Push(context.Background(), newImage(t).Artifact(), tags(t, r, repo+":v1"))
	if err != nil {
		t.Fatal(err)
	}
	return pr.Refs[0]
}

func referrer(artifactType, body string) *publish.Referrer {
	return &publish.Referrer{
		ArtifactType: artifactType,
		Layers:       []publish.Blob{{MediaType: types.MediaType(artifactType), Data: []byte(body)}},
		Annotations:  map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"},
	}
}

// putRaw PUTs a manifest's bytes as ref (a tag or digest) with a content type.
func putRaw(t *testing.T, repo name.Repository, ref string, mt types.MediaType, raw []byte) v1.Hash {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", repo.RegistryStr(), repo.RepositoryStr(), ref), bytes.NewReader(raw))
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %s", ref, resp.Status)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	return h
}

func TestAttachAndList(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []testregistry.Option
		want publish.Mechanism
	}{
		{"tag schema", nil, publish.TagSchema},
		{"referrers API", []testregistry.Option{testregistry.WithReferrers()}, publish.ReferrersAPI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host := testregistry.New(t, tc.opts...)
			r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
			subject := pushSubject(t, r, host+"/web/site")

			sig, err := r.Attach(ctx, subject, referrer(bundleType, `{"bundle":1}`))
			if err != nil {
				t.Fatalf("Attach() = %v", err)
			}
			if sig.Mechanism != tc.want || sig.Descriptor.ArtifactType != bundleType {
				t.Errorf("Attach() = %+v, want mechanism %s", sig, tc.want)
			}
			sbom, err := r.Attach(ctx, subject, referrer("application/spdx+json", `{"spdx":1}`))
			if err != nil {
				t.Fatal(err)
			}
			// Attaching the same bytes again lists them once.
			if _, err := r.Attach(ctx, subject, referrer(bundleType, `{"bundle":1}`)); err != nil {
				t.Fatal(err)
			}
			fallback, fbErr := remote.Head(publish.FallbackTag(subject))
			if tc.want == publish.TagSchema {
				if fbErr != nil || sig.Index == nil || fallback.Digest.String() != sbom.Index.DigestStr() {
					t.Errorf("tag-schema index: %v %v, Attach said %v", fallback, fbErr, sbom.Index)
				}
			} else if fbErr == nil {
				t.Errorf("a registry with the referrers API got a tag-schema index %s", fallback.Digest)
			}

			all, err := r.Referrers(ctx, subject, "")
			if err != nil {
				t.Fatalf("Referrers() = %v", err)
			}
			if all.Mechanism != tc.want || len(all.Referrers) != 2 {
				t.Fatalf("Referrers() = %+v", all)
			}
			sigs, err := r.Referrers(ctx, subject, bundleType)
			if err != nil || len(sigs.Referrers) != 1 || sigs.Referrers[0].Digest != sig.Descriptor.Digest {
				t.Fatalf("Referrers(bundle) = %+v, %v", sigs, err)
			}
			l := sigs.Referrers[0]
			if l.Annotations["dev.sigstore.bundle.content"] != "dsse-envelope" || l.Mechanism != tc.want {
				t.Errorf("listed %+v", l)
			}
			f, err := r.FetchReferrer(ctx, subject, l)
			if err != nil {
				t.Fatalf("FetchReferrer() = %v", err)
			}
			if len(f.Layers) != 1 || string(f.Layers[0]) != `{"bundle":1}` || string(f.Config) != "{}" ||
				f.Manifest.Subject.Digest.String() != subject.DigestStr() || f.Manifest.Config.MediaType != publish.EmptyJSON {
				t.Errorf("fetched %s / %q", f.Raw, f.Layers)
			}
			// The layout is cosign v3's: artifactType on the manifest and on
			// the empty config's descriptor.
			if f.Manifest.ArtifactType != bundleType || f.Manifest.Config.ArtifactType != bundleType {
				t.Errorf("manifest %s", f.Raw)
			}
			// go-containerregistry's reader sees the same list.
			idx, err := remote.Referrers(subject)
			if err != nil {
				t.Fatal(err)
			}
			if im, _ := idx.IndexManifest(); len(im.Manifests) != 2 {
				t.Errorf("remote.Referrers lists %d", len(im.Manifests))
			}
		})
	}
}

// TestTagSchemaKeepsOthers: a referrer written by another tool stays in
// the index.
func TestTagSchemaKeepsOthers(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	subject := pushSubject(t, r, host+"/web/site")
	other, err := r.Attach(ctx, subject, referrer("application/example", "other"))
	if err != nil {
		t.Fatal(err)
	}
	// Another tool's index: one entry, with annotations we do not know.
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{other.Descriptor}}
	im.Manifests[0].Annotations = map[string]string{"org.example/kept": "yes"}
	raw, _ := json.Marshal(im)
	putRaw(t, subject.Repository, publish.FallbackTag(subject).TagStr(), types.OCIImageIndex, raw)
	if _, err := r.Attach(ctx, subject, referrer(bundleType, "sig")); err != nil {
		t.Fatal(err)
	}
	list, err := r.Referrers(ctx, subject, "")
	if err != nil || len(list.Referrers) != 2 || list.Referrers[0].Annotations["org.example/kept"] != "yes" {
		t.Errorf("Referrers() = %+v, %v", list, err)
	}
}

// TestConfigTypeListed: cosign v2.6 lists a bundle in the tag schema with
// its config's media type; filtering by the bundle type finds it, and
// fetching it reads the manifest's artifactType.
func TestConfigTypeListed(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	subject := pushSubject(t, r, host+"/web/cosign26")
	a, err := r.Attach(ctx, subject, referrer(bundleType, "a bundle"))
	if err != nil {
		t.Fatal(err)
	}
	d := a.Descriptor
	d.ArtifactType, d.Annotations = string(publish.EmptyJSON), nil
	idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
	putRaw(t, subject.Repository, publish.FallbackTag(subject).TagStr(), types.OCIImageIndex, idx)
	list, err := r.Referrers(ctx, subject, bundleType)
	if err != nil || len(list.Referrers) != 1 {
		t.Fatalf("Referrers() = %+v, %v", list, err)
	}
	f, err := r.FetchReferrer(ctx, subject, list.Referrers[0])
	if err != nil || f.ArtifactType != bundleType {
		t.Errorf("FetchReferrer() = %v, %v", f, err)
	}
	if other, _ := r.Referrers(ctx, subject, "application/spdx+json"); len(other.Referrers) != 1 {
		t.Errorf("an entry listed with the config's type may be any artifact: %+v", other)
	}
}

// TestBadReferrers: every way a referrers list or a referrer can be wrong
// is a ReferrerError that names the subject, the referrer and the list.
func TestBadReferrers(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	fallbackOf := func(d name.Digest) string { return publish.FallbackTag(d).TagStr() }

	t.Run("not an index", func(t *testing.T) {
		subject := pushSubject(t, r, host+"/bad/notindex")
		// The sha256-HEX tag holds an image, not an index.
		putRaw(t, subject.Repository, fallbackOf(subject), types.OCIManifestSchema1, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1},"layers":[]}`))
		_, err := r.Referrers(ctx, subject, "")
		checkReferrerErr(t, err, subject, "", "the tag-schema index "+subject.Context().String()+":"+fallbackOf(subject), "want an OCI image index")
		_, err = r.Attach(ctx, subject, referrer(bundleType, "x"))
		checkReferrerErr(t, err, subject, "", "tag-schema index", "not overwriting it")
	})
	t.Run("malformed entry", func(t *testing.T) {
		subject := pushSubject(t, r, host+"/bad/entry")
		putRaw(t, subject.Repository, fallbackOf(subject), types.OCIManifestSchema1,
			[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:zz"}]}`))
		_, err := r.Referrers(ctx, subject, "")
		checkReferrerErr(t, err, subject, "", "tag-schema index", "malformed referrers index")
	})
	t.Run("missing blob", func(t *testing.T) {
		subject := pushSubject(t, r, host+"/bad/blob")
		a := referrer(bundleType, "never uploaded")
		sdesc, _ := remote.Head(subject)
		raw, _ := a.Manifest(*sdesc)
		h := putRaw(t, subject.Repository, "", types.OCIManifestSchema1, raw) // and no blobs
		im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Size: int64(len(raw)), Digest: h, ArtifactType: bundleType}}}
		idx, _ := json.Marshal(im)
		putRaw(t, subject.Repository, fallbackOf(subject), types.OCIImageIndex, idx)
		list, err := r.Referrers(ctx, subject, bundleType)
		if err != nil || len(list.Referrers) != 1 {
			t.Fatalf("Referrers() = %+v, %v", list, err)
		}
		_, err = r.FetchReferrer(ctx, subject, list.Referrers[0])
		checkReferrerErr(t, err, subject, h.String(), "tag-schema index", "is missing from the registry")
	})
	t.Run("artifactType lies", func(t *testing.T) {
		subject := pushSubject(t, r, host+"/bad/lie")
		a, err := r.Attach(ctx, subject, referrer("application/spdx+json", "an SBOM"))
		if err != nil {
			t.Fatal(err)
		}
		d := a.Descriptor
		d.ArtifactType = bundleType // the index says it is a signature
		idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
		putRaw(t, subject.Repository, fallbackOf(subject), types.OCIImageIndex, idx)
		list, err := r.Referrers(ctx, subject, bundleType)
		if err != nil || len(list.Referrers) != 1 {
			t.Fatalf("Referrers() = %+v, %v", list, err)
		}
		_, err = r.FetchReferrer(ctx, subject, list.Referrers[0])
		checkReferrerErr(t, err, subject, d.Digest.String(), "tag-schema index", `the list gives artifact type "`+bundleType+`", the manifest says "application/spdx+json"`)
	})
	t.Run("another subject", func(t *testing.T) {
		subject := pushSubject(t, r, host+"/bad/subject")
		pr, err := r.Push(ctx, newImage(t, builder.WithPrefix("other")).Artifact(), tags(t, r, host+"/bad/subject:other"))
		if err != nil {
			t.Fatal(err)
		}
		// A referrer of the other image, listed as one of subject's.
		a, err := r.Attach(ctx, pr.Refs[0], referrer(bundleType, "about another image"))
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{a.Descriptor}})
		putRaw(t, subject.Repository, fallbackOf(subject), types.OCIImageIndex, idx)
		list, _ := r.Referrers(ctx, subject, "")
		_, err = r.FetchReferrer(ctx, subject, list.Referrers[0])
		checkReferrerErr(t, err, subject, a.Descriptor.Digest.String(), "tag-schema index", "its subject is "+pr.Digest.String())
	})
	t.Run("malformed API answer", func(t *testing.T) {
		api := testregistry.New(t, testregistry.WithReferrers(), testregistry.WithWrap(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if strings.Contains(req.URL.Path, "/referrers/") {
					w.Header().Set("Content-Type", string(types.OCIImageIndex))
					w.Write([]byte(`{"schemaVersion":2,"manifests":[`))
					return
				}
				next.ServeHTTP(w, req)
			})
		}))
		subject := pushSubject(t, r, api+"/bad/api")
		_, err := r.Referrers(ctx, subject, "")
		checkReferrerErr(t, err, subject, "", "the referrers API (GET /v2/bad/api/referrers/"+subject.DigestStr()+")", "malformed referrers index")
	})
}

func checkReferrerErr(t *testing.T, err error, subject name.Digest, referrer string, wants ...string) {
	t.Helper()
	var re *publish.ReferrerError
	if !errors.Is(err, publish.ErrReferrer) || !errors.As(err, &re) {
		t.Fatalf("err = %v, want a ReferrerError", err)
	}
	msg := err.Error()
	for _, w := range append([]string{subject.String(), referrer}, wants...) {
		if !strings.Contains(msg, w) {
			t.Errorf("err = %q, want it to contain %q", msg, w)
		}
	}
}

// TestReferrersPages: the referrers API's answer in pages (Link headers)
// is read whole.
func TestReferrersPages(t *testing.T) {
	ctx := context.Background()
	var pages int
	host := testregistry.New(t, testregistry.WithReferrers(), testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !strings.Contains(req.URL.Path, "/referrers/") {
				next.ServeHTTP(w, req)
				return
			}
			// Serve the list one entry per page.
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, req)
			var im v1.IndexManifest
			json.Unmarshal(rec.body.Bytes(), &im)
			page := 0
			fmt.Sscan(req.URL.Query().Get("page"), &page)
			pages++
			out := im
			out.Manifests = im.Manifests[page : page+1]
			if page+1 < len(im.Manifests) {
				w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, req.URL.Path, page+1))
			}
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			json.NewEncoder(w).Encode(out)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	subject := pushSubject(t, r, host+"/web/pages")
	for i := range 3 {
		if _, err := r.Attach(ctx, subject, referrer(bundleType, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	list, err := r.Referrers(ctx, subject, "")
	if err != nil || len(list.Referrers) != 3 || pages != 3 {
		t.Errorf("Referrers() = %d entries in %d pages, %v", len(list.Referrers), pages, err)
	}
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// TestReferrersUnreachable: a registry that cannot be reached is an
// error about the registry, not an empty list.
func TestReferrersUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(remote.Backoff{Steps: 1}))
	subject, _ := name.NewDigest(addr+"/web/site@sha256:"+strings.Repeat("a", 64), name.Insecure)
	_, err := r.Referrers(context.Background(), subject, "")
	if !errors.Is(err, publish.ErrUnreachable) || errors.Is(err, publish.ErrReferrer) {
		t.Errorf("Referrers() = %v, want ErrUnreachable", err)
	}
}
