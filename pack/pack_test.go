package pack_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

var epoch = time.Unix(1700000000, 0)

// site writes a small tree: a page and a 3 MiB incompressible-looking file,
// which the builder stores uncompressed and a push-only build uploads while
// hashing it.
func site(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>pack</h1>\n"), 0o644)
	big := make([]byte, 3<<20)
	x := uint32(7)
	for i := range big {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		big[i] = byte(x)
	}
	os.WriteFile(filepath.Join(dir, "model.bin"), big, 0o644)
	return dir
}

func image() pack.Image {
	return pack.Image{NoGit: true, SourceDateEpoch: &epoch}
}

// counter counts requests by method and path kind.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case strings.Contains(r.URL.Path, "/blobs/uploads/"):
			kind = "upload"
		case strings.Contains(r.URL.Path, "/blobs/"):
			kind = "blob"
		case strings.Contains(r.URL.Path, "/manifests/"):
			kind = "manifest"
		}
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.Method+" "+kind]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int
	for _, v := range c.n {
		n += v
	}
	return n
}

// TestRunSameDigestEverywhere: the digest of a local output, of a push, and
// of builder.Build alone are one and the same, and the pushed image reads
// back by that digest.
func TestRunSameDigestEverywhere(t *testing.T) {
	ctx := context.Background()
	dir := site(t)
	ref, err := builder.Build(ctx, dir, builder.WithGit(false), builder.WithSourceDateEpoch(epoch))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()

	out := filepath.Join(t.TempDir(), "out")
	local, err := pack.Run(ctx, pack.Spec{Source: dir, Image: image(), Output: publish.Target{Kind: publish.Layout, Path: out}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if local.Digest != ref.Digest || local.Reference != "oci:"+out+"@"+ref.Digest.String() || local.Output != "oci:"+out {
		t.Errorf("local: digest %s reference %q output %q; builder alone gave %s", local.Digest, local.Reference, local.Output, ref.Digest)
	}
	if _, err := os.Stat(filepath.Join(out, "index.json")); err != nil {
		t.Errorf("no layout written: %v", err)
	}

	host := testregistry.New(t)
	pushed, err := pack.Run(ctx, pack.Spec{Source: dir, Image: image(), Tags: []string{host + "/web/site:v1", host + "/web/site:latest"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pushed.Close()
	if want := host + "/web/site@" + ref.Digest.String(); pushed.Reference != want || pushed.Output != "" {
		t.Errorf("pushed: reference %q output %q, want %q and no local output", pushed.Reference, pushed.Output, want)
	}
	for _, tag := range []string{"v1", "latest"} {
		r, _ := name.ParseReference(host + "/web/site:" + tag)
		d, err := remote.Head(r)
		if err != nil || d.Digest != ref.Digest {
			t.Errorf("%s: %v, %v; want %s", tag, d, err, ref.Digest)
		}
	}
	if pushed.Pushed == nil || pushed.Pushed.SentBytes < 3<<20 {
		t.Errorf("push statistics %+v: the 3 MiB layer was not counted as sent", pushed.Pushed)
	}
}

// TestRunUploadsWhileBuilding: a push-only build starts the uncompressed
// layer's upload before its hash is known (the builder's LayerStart hook is
// wired to the uploader): the registry sees a streamed PATCH, not only
// monolithic PUTs after the build.
func TestRunUploadsWhileBuilding(t *testing.T) {
	var c counter
	host := testregistry.New(t, testregistry.WithWrap(c.wrap))
	res, err := pack.Run(context.Background(), pack.Spec{Source: site(t), Image: image(), Tags: []string{host + "/web/early:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if c.get("PATCH upload") == 0 {
		t.Errorf("no PATCH: the uncompressed layer was not streamed while it was hashed (requests %v)", c.n)
	}
	// With a local output the same layer is stored first and not streamed.
	var c2 counter
	host2 := testregistry.New(t, testregistry.WithWrap(c2.wrap))
	res2, err := pack.Run(context.Background(), pack.Spec{Source: site(t), Image: image(), Tags: []string{host2 + "/web/early:v1"},
		Output: publish.Target{Kind: publish.Layout, Path: filepath.Join(t.TempDir(), "out")}})
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Close()
	if res2.Digest != res.Digest {
		t.Errorf("digest with an output %s, without %s", res2.Digest, res.Digest)
	}
}

// TestRunChecksBeforeWork: a spec that cannot work fails before the
// builder runs and before any request reaches the registry, naming the
// field.
func TestRunChecksBeforeWork(t *testing.T) {
	var c counter
	host := testregistry.New(t, testregistry.WithWrap(c.wrap))
	out := filepath.Join(t.TempDir(), "out")
	patch := pack.Patch{Format: kube.Strategic, Workload: "deployment/web",
		Mount: kube.Mount{Containers: []string{"nginx"}, MountPath: "/srv"}}
	for _, tc := range []struct {
		name  string
		spec  pack.Spec
		field string // a SpecError's field, or "" for another error
	}{
		{"nothing", pack.Spec{}, "Source"},
		{"both", pack.Spec{Source: "x", Reference: host + "/a/b:v1"}, "Source"},
		{"patch without push", pack.Spec{Source: site(t), Patches: []pack.Patch{patch}}, "Patches"},
		{"sign without push", pack.Spec{Source: site(t), Sign: &pack.Sign{Signer: &recorder{}}}, "Sign"},
		{"no signer", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"}, Sign: &pack.Sign{}}, "Sign.Signer"},
		{"signer cannot attest", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"}, Sign: &pack.Sign{Signer: signOnly{}, AttestFiles: true}}, "Sign.AttestFiles"},
		{"unknown format", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"}, Sign: &pack.Sign{Signer: &formatRecorder{}, Format: "cosign"}}, "Sign.Format"},
		{"signer of one format", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"}, Sign: &pack.Sign{Signer: signOnly{}, Format: sign.FormatLegacy}}, "Sign.Format"},
		{"patch without workload", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"},
			Patches: []pack.Patch{{Format: kube.Strategic, Mount: patch.Mount}}}, "Patches[0].Workload"},
		{"json6902 without manifest", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"},
			Patches: []pack.Patch{{Format: kube.JSON6902, Workload: "deployment/web", Mount: patch.Mount}}}, "Patches[0].Manifest"},
		{"component without directory", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"},
			Patches: []pack.Patch{{Format: kube.Kustomize, Workload: "deployment/web", Mount: patch.Mount}}}, "Patches[0].Output"},
		{"relative mount path", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:v1"}, Output: publish.Target{Kind: publish.Layout, Path: out},
			Patches: []pack.Patch{{Format: kube.Strategic, Workload: "deployment/web", Mount: kube.Mount{Containers: []string{"nginx"}, MountPath: "srv"}}}}, ""},
		{"bad tag", pack.Spec{Source: site(t), Tags: []string{host + "/a/b:bad:tag"}, Output: publish.Target{Kind: publish.Layout, Path: out}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := pack.Run(context.Background(), tc.spec)
			if err == nil {
				res.Close()
				t.Fatal("Run succeeded")
			}
			var se *pack.SpecError
			switch {
			case tc.field != "" && (!errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, pack.ErrInvalidSpec)):
				t.Errorf("Run() = %v, want a SpecError for %s", err, tc.field)
			case tc.field == "" && errors.As(err, &se):
				t.Errorf("Run() = %v, want the library's own error", err)
			}
		})
	}
	if n := c.total(); n != 0 {
		t.Errorf("%d requests reached the registry: %v", n, c.n)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output %s was created by a spec that failed: %v", out, err)
	}
}

// TestRunPatches: a push with patches writes each, pinned to the pushed
// digest, and keeps one without an output in the result.
func TestRunPatches(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	manifest := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:1.29"}]
`)
	mount := kube.Mount{MountPath: "/usr/share/nginx/html"}
	res, err := pack.Run(context.Background(), pack.Spec{Source: site(t), Image: image(), Tags: []string{host + "/web/site:v1"},
		Patches: []pack.Patch{
			{Format: kube.Strategic, Workload: "deployment/web", Mount: mount, Manifest: manifest, Output: filepath.Join(work, "patch.yaml")},
			{Format: kube.Kustomize, Workload: "deployment/web", Mount: mount, Manifest: manifest, Output: filepath.Join(work, "component")},
			{Format: kube.PodFormat, Mount: mount},
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if len(res.Patches) != 3 {
		t.Fatalf("%d patches rendered, want 3", len(res.Patches))
	}
	written, err := os.ReadFile(filepath.Join(work, "patch.yaml"))
	if err != nil || !strings.Contains(string(written), res.Reference) {
		t.Errorf("patch.yaml (%v) does not name %s:\n%s", err, res.Reference, written)
	}
	if got := res.Patches[0].Containers; len(got) != 1 || got[0] != "nginx" {
		t.Errorf("containers %v, want the workload's only container", got)
	}
	if files := res.Patches[1].Files; len(files) != 2 {
		t.Errorf("component files %v, want kustomization.yaml and the patch", files)
	}
	for _, f := range res.Patches[1].Files {
		if b, err := os.ReadFile(f); err != nil || (strings.HasSuffix(f, "patch.yaml") && !strings.Contains(string(b), res.Reference)) {
			t.Errorf("%s (%v):\n%s", f, err, b)
		}
	}
	if res.Patches[2].Output != "" || !strings.Contains(string(res.Patches[2].Data), "kind: Pod") || !strings.Contains(string(res.Patches[2].Data), res.Reference) {
		t.Errorf("pod patch kept in the result:\n%s", res.Patches[2].Data)
	}
}

// TestRunReferenceDigestOffline: patches for a digest reference need no
// registry: nothing is contacted (the host does not exist).
func TestRunReferenceDigestOffline(t *testing.T) {
	ref := "registry.invalid/web/site@sha256:" + strings.Repeat("ab", 32)
	res, err := pack.Run(context.Background(), pack.Spec{Reference: ref,
		Patches: []pack.Patch{{Format: kube.PodFormat, Mount: kube.Mount{MountPath: "/data"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reference != ref || res.Digest.String() != "sha256:"+strings.Repeat("ab", 32) || !strings.Contains(string(res.Patches[0].Data), ref) {
		t.Errorf("reference %q digest %s patch:\n%s", res.Reference, res.Digest, res.Patches[0].Data)
	}
}

// recorder is a sign.Signer and sign.Attester that records what it was
// asked to sign; a real signer is tested in sign/cosign and the e2e tests.
type recorder struct {
	mu               sync.Mutex
	signed, attested []string
	files            atomic.Int64
}

func (r *recorder) Sign(_ context.Context, d name.Digest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signed = append(r.signed, d.DigestStr())
	return nil
}

func (r *recorder) Attest(_ context.Context, d name.Digest, typ string, pred any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := pred.(*sign.FilesPredicate); ok && typ == sign.FilesPredicateType {
		r.files.Store(int64(len(p.Files)))
	}
	r.attested = append(r.attested, d.DigestStr())
	return nil
}

type signOnly struct{}

// formatRecorder records the format it was asked to sign and attest in.
type formatRecorder struct {
	recorder
	formats []sign.Format
}

func (r *formatRecorder) SignFormat(ctx context.Context, d name.Digest, f sign.Format) error {
	r.formats = append(r.formats, f)
	return r.Sign(ctx, d)
}

func (r *formatRecorder) AttestFormat(ctx context.Context, d name.Digest, f sign.Format, typ string, pred any) error {
	r.formats = append(r.formats, f)
	return r.Attest(ctx, d, typ, pred)
}

// TestRunPassesFormat: Sign.Format reaches the signer, for signatures and
// attestations.
func TestRunPassesFormat(t *testing.T) {
	host := testregistry.New(t)
	rec := &formatRecorder{}
	res, err := pack.Run(context.Background(), pack.Spec{Source: site(t), Image: image(), Tags: []string{host + "/web/site:v1"},
		Sign: &pack.Sign{Signer: rec, AttestFiles: true, Format: sign.FormatBoth}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if len(rec.formats) != 2 || rec.formats[0] != sign.FormatBoth || rec.formats[1] != sign.FormatBoth || len(rec.signed) != 1 {
		t.Errorf("formats %v, signed %v", rec.formats, rec.signed)
	}
}

func (signOnly) Sign(context.Context, name.Digest) error { return nil }

// TestRunSignsIndexAndChildren: a multi-platform push signs the index and,
// recursively, each platform manifest, in every repository pushed to, and
// attests the files once per signed digest.
func TestRunSignsIndexAndChildren(t *testing.T) {
	host := testregistry.New(t)
	im := image()
	im.Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	rec := &recorder{}
	res, err := pack.Run(context.Background(), pack.Spec{Source: site(t), Image: im,
		Tags: []string{host + "/web/site:v1", host + "/mirror/site:v1"},
		Sign: &pack.Sign{Signer: rec, Recursive: true, AttestFiles: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	idx, _ := res.Build.Index.IndexManifest()
	want := []string{res.Digest.String(), idx.Manifests[0].Digest.String(), idx.Manifests[1].Digest.String()}
	want = append(want, want...) // two repositories
	if strings.Join(rec.signed, " ") != strings.Join(want, " ") || strings.Join(rec.attested, " ") != strings.Join(want, " ") {
		t.Errorf("signed %v, attested %v; want %v for both", rec.signed, rec.attested, want)
	}
	if len(res.Signed) != 6 || res.Signed[3].Context().String() != host+"/mirror/site" {
		t.Errorf("Result.Signed = %v", res.Signed)
	}
	if rec.files.Load() != 2 {
		t.Errorf("the attestation lists %d files, want 2", rec.files.Load())
	}
}

// TestSignEmptyIndex: attesting the files of an index without manifests
// says so (it used to print "<nil>"), and signs nothing.
func TestSignEmptyIndex(t *testing.T) {
	host := testregistry.New(t)
	ref, err := name.ParseReference(host + "/web/empty:v1")
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	_, err = pack.Run(context.Background(), pack.Spec{Reference: ref.String(), Sign: &pack.Sign{Signer: rec, Recursive: true, AttestFiles: true}})
	if err == nil || strings.Contains(err.Error(), "<nil>") || !strings.Contains(err.Error(), "the index has no manifests") {
		t.Errorf("Run() = %v, want an error saying the index has no manifests", err)
	}
	if len(rec.signed) != 0 {
		t.Errorf("signed %v", rec.signed)
	}
}

// TestMaxLayers: Image.MaxLayers caps the layers the build plans, grouping
// the small files.
func TestMaxLayers(t *testing.T) {
	dir := t.TempDir()
	for i := range 1000 {
		page := strings.Repeat(string(rune('a'+i%26)), 20_000+i)
		os.WriteFile(filepath.Join(dir, "page"+strconv.Itoa(i)+".html"), []byte(page), 0o644)
	}
	count := func(maxLayers int) int {
		im := image()
		im.MaxLayers = maxLayers
		res, err := pack.Run(context.Background(), pack.Spec{Source: dir, Image: im})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		return len(res.Build.Layers)
	}
	if n := count(0); n < 3 {
		t.Fatalf("the tree makes %d layers; the test needs more than 2", n)
	}
	if n := count(2); n > 2 {
		t.Errorf("MaxLayers 2: %d layers", n)
	}
}
