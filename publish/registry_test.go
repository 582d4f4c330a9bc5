package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

var fast = remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 4}

func newImage(t *testing.T, opts ...builder.Option) *builder.Result {
	t.Helper()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>registry</h1>\n"), 0o644)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 31 % 251)
	}
	os.WriteFile(filepath.Join(src, "data.bin"), big, 0o644)
	opts = append([]builder.Option{builder.WithGit(false)}, opts...)
	res, err := builder.Build(context.Background(), src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func tags(t *testing.T, r *publish.Registry, ss ...string) []name.Tag {
	t.Helper()
	var out []name.Tag
	for _, s := range ss {
		tag, err := r.ParseTag(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tag)
	}
	return out
}

func TestPushAndReadBack(t *testing.T) {
	host := testregistry.New(t)
	r, err := publish.NewRegistry(publish.WithRetryBackoff(fast))
	if err != nil {
		t.Fatal(err)
	}
	res := newImage(t)
	ts := tags(t, r, host+"/web/site:v1", host+"/web/site:latest", host+"/mirror/site:v1")
	pr, err := r.Push(context.Background(), res.Artifact(), ts)
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	if pr.Digest != res.Digest || len(pr.Refs) != 2 || pr.Refs[0].String() != host+"/web/site@"+res.Digest.String() {
		t.Fatalf("PushResult = %+v", pr)
	}
	for _, tag := range ts {
		img, err := remote.Image(tag)
		if err != nil {
			t.Fatalf("remote.Image(%s) = %v", tag, err)
		}
		if d, _ := img.Digest(); d != res.Digest {
			t.Errorf("%s digest = %s, want %s", tag, d, res.Digest)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image(%s) = %v", tag, err)
		}
	}
	size, _ := res.Layers[0].Size()
	cfg, _ := res.Image.RawConfigFile()
	if want := size + int64(len(cfg)); pr.SentBytes != want {
		t.Errorf("SentBytes = %d, want one upload of the layer and the config (%d)", pr.SentBytes, want)
	}
	if pr.SkippedBlobs < 2 { // the second repository mounts the layer and the config
		t.Errorf("SkippedBlobs = %d, want the mirror's blobs mounted", pr.SkippedBlobs)
	}

	// Pushing the same image again sends nothing.
	again, err := r.Push(context.Background(), res.Artifact(), ts[:1])
	if err != nil {
		t.Fatal(err)
	}
	if again.SentBytes != 0 {
		t.Errorf("re-push: sent %d bytes, want 0", again.SentBytes)
	}
}

func TestPushIndex(t *testing.T) {
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	ps, _ := builder.ParsePlatforms([]string{"linux/amd64,linux/arm64"})
	res := newImage(t, builder.WithPlatforms(ps...))
	pr, err := r.Push(context.Background(), res.Artifact(), tags(t, r, host+"/multi:v1"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(pr.Refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index() = %v", err)
	}
}

// flaky fails the first request of each kind (method and path, upload IDs
// masked) the way real registries and proxies do, cycling through 500, 429
// with Retry-After, a connection reset and 503. Retries of the same request
// then succeed, so a push that retries correctly always completes.
func flaky(counts *sync.Map) func(http.Handler) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	var n int
	uploadID := regexp.MustCompile(`/uploads/[^/?]+`)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			key := req.Method + " " + uploadID.ReplaceAllString(req.URL.Path, "/uploads/ID")
			mu.Lock()
			first := !seen[key] && key != "GET /v2/"
			seen[key] = true
			fault := -1
			if first {
				fault = n % 4
				n++
			}
			mu.Unlock()
			kind := ""
			switch fault {
			case 0:
				kind = "500"
				w.WriteHeader(http.StatusInternalServerError)
			case 1:
				kind = "429 Retry-After"
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
			case 2:
				kind = "reset"
				if hj, ok := w.(http.Hijacker); ok {
					c, _, _ := hj.Hijack()
					if tc, ok := c.(*net.TCPConn); ok {
						tc.SetLinger(0)
					}
					c.Close()
				}
			case 3:
				kind = "503"
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			if kind != "" {
				v, _ := counts.LoadOrStore(kind, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
}

func TestPushThroughFaults(t *testing.T) {
	clean := testregistry.New(t)
	var counts sync.Map
	faulty := testregistry.New(t, testregistry.WithWrap(flaky(&counts)))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	res := newImage(t)
	want, err := r.Push(context.Background(), res.Artifact(), tags(t, r, clean+"/site:v1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Push(context.Background(), res.Artifact(), tags(t, r, faulty+"/site:v1"))
	if err != nil {
		t.Fatalf("Push through faults = %v", err)
	}
	if got.Digest != want.Digest {
		t.Errorf("digest through faults = %s, want %s", got.Digest, want.Digest)
	}
	injected := 0
	counts.Range(func(_, v any) bool { injected += int(v.(*atomic.Int64).Load()); return true })
	kinds := 0
	counts.Range(func(_, _ any) bool { kinds++; return true })
	if injected < 4 || kinds < 4 {
		t.Errorf("only %d faults were injected; the test did not test much", injected)
	}
}

func TestPushErrors(t *testing.T) {
	ctx := context.Background()
	res := newImage(t)

	// 401 without credentials: names the registry and says how to log in.
	auth := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(authn.NewMultiKeychain()))
	_, err := r.Push(ctx, res.Artifact(), tags(t, r, auth+"/site:v1"))
	var he *publish.HostError
	if !errors.Is(err, publish.ErrUnauthorized) || !strings.Contains(err.Error(), "log in to "+auth+" (docker login, or Registry.Login)") || !strings.Contains(err.Error(), "401") ||
		!errors.As(err, &he) || he.Host != auth || strings.Contains(err.Error(), "--") {
		t.Errorf("unauthenticated push: %v", err)
	}
	// With credentials from a keychain it works.
	r2, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(staticKeychain{"ci", "s3cret"}))
	if _, err := r2.Push(ctx, res.Artifact(), tags(t, r2, auth+"/site:v1")); err != nil {
		t.Errorf("authenticated push: %v", err)
	}
	// A wrong password is refused, and never printed.
	r3, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(staticKeychain{"ci", "wrong-Pa55"}))
	_, err = r3.Push(ctx, res.Artifact(), tags(t, r3, auth+"/site:v1"))
	if !errors.Is(err, publish.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-Pa55") {
		t.Errorf("wrong password: %v", err)
	}

	// A registry reporting another digest for our manifest is caught.
	liar := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
				w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
				w.WriteHeader(http.StatusCreated)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	_, err = r.Push(ctx, res.Artifact(), tags(t, r, liar+"/site:v1"))
	if !errors.Is(err, publish.ErrDigestMismatch) {
		t.Errorf("lying registry: %v, want ErrDigestMismatch", err)
	}

	// A registry refusing the manifest: the tag is not created.
	refuse := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
				http.Error(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"nope"}]}`, http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	_, err = r.Push(ctx, res.Artifact(), tags(t, r, refuse+"/site:v1"))
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), refuse+"/site:v1") {
		t.Errorf("refused manifest: %v", err)
	}
	if _, err := remote.Head(tags(t, r, refuse+"/site:v1")[0]); err == nil {
		t.Error("a refused manifest left a tag")
	}

	// Unreachable: a closed port fails fast, naming the host.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = r.Push(ctx, res.Artifact(), tags(t, r, closed+"/site:v1"))
	if !errors.Is(err, publish.ErrUnreachable) || !strings.Contains(err.Error(), closed) || !errors.As(err, &he) || he.Host != closed {
		t.Errorf("unreachable: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("unreachable registry took %v", time.Since(start))
	}
}

type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

func TestPlainHTTPPolicy(t *testing.T) {
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	res := newImage(t)
	// example.invalid never resolves; the policy refuses before any dial.
	tag, _ := name.NewTag("example.invalid:5000/site:v1", name.Insecure)
	_, err := r.Push(context.Background(), res.Artifact(), []name.Tag{tag})
	var he *publish.HostError
	if !errors.Is(err, publish.ErrInsecure) || !errors.As(err, &he) || he.Host != "example.invalid:5000" ||
		!strings.Contains(err.Error(), `registry "example.invalid:5000" must use TLS (or be allowed insecure access): plain HTTP is not allowed`) ||
		strings.Contains(err.Error(), "--") {
		t.Errorf("plain HTTP to a remote host: %v", err)
	}
	_, err = publish.NewRegistry(publish.WithInsecureRegistries("http://x/y"))
	var oe *publish.OptionError
	if !errors.As(err, &oe) || oe.Option != "insecure registry" || oe.Value != "http://x/y" || !errors.Is(err, publish.ErrInvalidReference) {
		t.Errorf("a URL as an insecure registry: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	var throttled atomic.Int64
	host := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") && throttled.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	res := newImage(t)
	if _, err := r.Push(context.Background(), res.Artifact(), tags(t, r, host+"/site:v1")); err != nil {
		t.Fatalf("Push() after a 429 = %v", err)
	}
	if throttled.Load() < 2 {
		t.Errorf("manifest PUT was not retried after 429")
	}
}

func TestLoadAndPush(t *testing.T) {
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	for _, kind := range []publish.Kind{publish.Layout, publish.Archive} {
		t.Run(string(kind), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "img")
			res := write(t, publish.Target{Kind: kind, Path: p})
			src, err := publish.ParseSource(string(kind) + ":" + p + "@" + res.Digest.String())
			if err != nil {
				t.Fatal(err)
			}
			art, cleanup, err := publish.Load(src)
			if err != nil {
				t.Fatalf("Load(%s) = %v", src, err)
			}
			defer cleanup()
			pr, err := r.Push(context.Background(), art, tags(t, r, host+"/loaded:"+string(kind)))
			if err != nil {
				t.Fatal(err)
			}
			if pr.Digest != res.Digest {
				t.Errorf("pushed %s, built %s", pr.Digest, res.Digest)
			}
		})
	}
	// Broken sources are refused before anything is pushed.
	dir := filepath.Join(t.TempDir(), "broken")
	res := write(t, publish.Target{Kind: publish.Layout, Path: dir})
	layer, _ := res.Layers[0].Digest()
	os.Remove(filepath.Join(dir, "blobs", "sha256", layer.Hex))
	for _, s := range []string{"oci:" + dir, "oci:" + filepath.Join(dir, "nope"), "tar:" + filepath.Join(dir, "index.json"), "oci:" + dir + "@sha256:" + strings.Repeat("a", 64)} {
		src, err := publish.ParseSource(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := publish.Load(src); !errors.Is(err, publish.ErrInvalidSource) {
			t.Errorf("Load(%s) = %v, want ErrInvalidSource", s, err)
		}
	}
	if _, err := publish.ParseSource("docker://x/y"); !errors.Is(err, publish.ErrInvalidTarget) {
		t.Errorf("ParseSource(docker://) = %v", err)
	}
}

func TestLogin(t *testing.T) {
	auth := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("HOME", t.TempDir())
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	_, err := r.Login(context.Background(), auth, "ci", "Wr0ng-pass")
	if !errors.Is(err, publish.ErrUnauthorized) || strings.Contains(err.Error(), "Wr0ng-pass") || !strings.Contains(err.Error(), "password") {
		t.Errorf("Login(wrong) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "config.json")); err == nil {
		t.Error("a failed login wrote the config")
	}
	file, err := r.Login(context.Background(), auth, "ci", "s3cret")
	if err != nil {
		t.Fatalf("Login() = %v", err)
	}
	b, _ := os.ReadFile(file)
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	json.Unmarshal(b, &cfg)
	if cfg.Auths[auth].Auth == "" {
		t.Errorf("config %s = %s, want an auth entry for %s", file, b, auth)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("config mode %v: readable by others", fi.Mode())
	}
	// The default keychain now finds the credentials.
	res := newImage(t)
	if _, err := r.Push(context.Background(), res.Artifact(), tags(t, r, auth+"/site:v1")); err != nil {
		t.Errorf("push after login: %v", err)
	}
}

func TestMountFrom(t *testing.T) {
	host := testregistry.New(t)
	res := newImage(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	if _, err := r.Push(context.Background(), res.Artifact(), tags(t, r, host+"/staging/site:v1")); err != nil {
		t.Fatal(err)
	}
	r2, err := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithMountFrom(host+"/staging/site"))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := r2.Push(context.Background(), res.Artifact(), tags(t, r2, host+"/prod/site:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if pr.SentBytes != 0 || pr.SkippedBlobs < 2 {
		t.Errorf("push with --mount-from sent %d bytes, skipped %d blobs; want everything mounted", pr.SentBytes, pr.SkippedBlobs)
	}
	if _, err := publish.NewRegistry(publish.WithMountFrom("Not Valid")); !errors.Is(err, publish.ErrInvalidReference) ||
		!strings.HasPrefix(err.Error(), `repository to mount from "Not Valid": `) {
		t.Errorf("invalid repository to mount from: %v", err)
	}
}

func TestGitHubTokenKeychain(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("GITHUB_TOKEN", "ghs_example")
	t.Setenv("GITHUB_ACTOR", "octocat")
	ghcr, _ := name.NewRepository("ghcr.io/acme/site")
	a, err := publish.Keychain().Resolve(ghcr)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := a.Authorization()
	if cfg.Username != "octocat" || cfg.Password != "ghs_example" {
		t.Errorf("ghcr.io credentials = %q/%q", cfg.Username, cfg.Password)
	}
	other, _ := name.NewRepository("registry.example.com/acme/site")
	a, _ = publish.Keychain().Resolve(other)
	if a != authn.Anonymous {
		t.Errorf("GITHUB_TOKEN offered to another registry: %v", a)
	}
}
