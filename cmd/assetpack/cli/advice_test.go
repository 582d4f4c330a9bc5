package cli

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/policy"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/sign/cosign"
	"github.com/assetpack/assetpack/unpack"
)

// adviceCase is a real library error (so that a library message that
// drifts from what the CLI rewords fails here) and what a user of command
// cmd must read, or not read, once withFlagAdvice has reworded it.
type adviceCase struct {
	name, cmd string
	err       error
	want      []string // in the reworded message
	not       []string // not in it
}

// checkAdvice checks that each case names the flags it wants and keeps the
// library error in the chain, with its exit code.
func checkAdvice(t *testing.T, cases []adviceCase) {
	t.Helper()
	ctx := context.Background()
	root := NewRoot(strings.NewReader(""), io.Discard, io.Discard)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := root.Find(strings.Fields(tc.cmd))
			if err != nil || c == root {
				t.Fatalf("no command %q: %v", tc.cmd, err)
			}
			if tc.err == nil {
				t.Fatal("the library returned no error")
			}
			got := withFlagAdvice(c, tc.err)
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("withFlagAdvice(%s) = %q\nwant it to contain %q", tc.cmd, got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got.Error(), n) {
					t.Errorf("withFlagAdvice(%s) = %q\nwant it without %q", tc.cmd, got, n)
				}
			}
			// The library error stays in the chain (ggcr's errors are not
			// all comparable, so errors.Is(got, tc.err) cannot tell).
			u := got
			if fa, ok := got.(*flagAdvice); ok {
				u = fa.err
			}
			if u.Error() != tc.err.Error() {
				t.Errorf("withFlagAdvice(%s) unwraps to %v, want the library error %v", tc.cmd, u, tc.err)
			}
			if ExitCode(ctx, got) != ExitCode(ctx, tc.err) {
				t.Errorf("withFlagAdvice(%s): exit code %d, want %d", tc.cmd, ExitCode(ctx, got), ExitCode(ctx, tc.err))
			}
		})
	}
}

// testDir makes a directory under t.TempDir() holding files (each
// containing its name).
func testDir(t *testing.T, files ...string) string {
	d := t.TempDir()
	for _, f := range files {
		os.WriteFile(filepath.Join(d, f), []byte(f), 0o644)
	}
	return d
}

func TestBuilderFlagAdvice(t *testing.T) {
	build := func(d string, opts ...builder.Option) error {
		res, err := builder.Build(context.Background(), d, append(opts, builder.WithGit(false))...)
		if err == nil {
			res.Close()
		}
		return err
	}
	site, empty, escape := testDir(t, "index.html"), testDir(t), testDir(t, "a")
	os.Symlink("/etc/passwd", filepath.Join(escape, "passwd"))
	// A repository gitrepo refuses to read (refs in a reftable).
	reftable := testDir(t, "index.html")
	os.MkdirAll(filepath.Join(reftable, ".git", "refs"), 0o755)
	os.WriteFile(filepath.Join(reftable, ".git", "HEAD"), []byte("ref: refs/heads/.invalid\n"), 0o644)
	os.WriteFile(filepath.Join(reftable, ".git", "config"), []byte("[core]\n\trepositoryformatversion = 1\n[extensions]\n\trefStorage = reftable\n"), 0o644)
	gitErr := func() error {
		res, err := builder.Build(context.Background(), reftable)
		if err == nil {
			res.Close()
		}
		return err
	}()
	if !errors.Is(gitErr, builder.ErrGitMetadata) || !errors.Is(gitErr, builder.ErrBadInput) {
		t.Errorf("Build in a reftable repository = %v, want ErrGitMetadata and ErrBadInput", gitErr)
	}
	if err := build(reftable); err != nil {
		t.Errorf("Build(WithGit(false)) in a reftable repository = %v", err)
	}
	checkAdvice(t, []adviceCase{
		{"git", "build", gitErr, []string{`reading git metadata of "` + reftable + `"`, "extensions.refStorage = reftable",
			"; fix the repository, or pass --git=false to build without git metadata"}, []string{"With"}},
		{"compression", "build", func() error { _, err := builder.ParseCompression("lz4"); return err }(),
			[]string{`--compression "lz4" is not supported: use gzip, zstd, zstd-better, zstd-best, none or auto`}, nil},
		{"platform", "build", func() error { _, err := builder.ParsePlatforms([]string{"linux"}); return err }(),
			[]string{`--platform "linux" is not of the form os/arch[/variant]`}, nil},
		{"layers", "build", build(site, builder.WithLayers("many")), []string{`--layers "many" is not supported`}, nil},
		{"prefix", "build", build(site, builder.WithPrefix("../x")), []string{`--prefix "../x" contains ".."`}, nil},
		{"exclude", "build", build(site, builder.WithExcludes("[x")), []string{`--exclude "[x": `}, []string{"exclude pattern"}},
		{"diff symlinks", "diff", build(site, builder.WithSymlinks("copy")), []string{`--symlinks "copy" is not supported`}, nil},
		{"empty", "build", build(empty),
			[]string{"(after .git, .assetignore and --exclude patterns are applied); add files, or pass --allow-empty to build an image without files"}, []string{"With"}},
		{"empty without --allow-empty", "diff", build(empty), []string{`"` + empty + `": no files to pack`, "; add files"}, []string{"With", "--allow-empty"}},
		{"symlink escape", "build", build(escape), []string{"or use --symlinks follow to store its target's content"}, []string{"With"}},
		// A command without the flag keeps the library's words.
		{"no such flag", "version", func() error { _, err := builder.ParseCompression("lz4"); return err }(),
			[]string{`compression "lz4" is not supported`}, []string{"--compression"}},
	})
}

func TestPublishFlagAdvice(t *testing.T) {
	ctx := context.Background()
	res, err := builder.Build(ctx, testDir(t, "index.html"), builder.WithGit(false))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	registryErr := func(opts ...publish.RegistryOption) error {
		_, err := publish.NewRegistry(opts...)
		return err
	}
	reg, _ := publish.NewRegistry(publish.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}),
		publish.WithKeychain(authn.NewMultiKeychain()), publish.WithTimeout(200*time.Millisecond))
	// The 200 ms timeout is for the registry that never answers; the
	// others get time for a TLS handshake on a loaded machine.
	patient, _ := publish.NewRegistry(publish.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}),
		publish.WithKeychain(authn.NewMultiKeychain()), publish.WithTimeout(30*time.Second))
	pushWith := func(r *publish.Registry, tag name.Tag) error {
		_, err := r.Push(ctx, res.Artifact(), []name.Tag{tag})
		return err
	}
	push := func(tag name.Tag) error { return pushWith(patient, tag) }
	tag := func(s string) name.Tag {
		tg, err := reg.ParseTag(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	// Registries: plain HTTP to a remote host (refused before any dial), an
	// untrusted certificate, a 401, and one that never answers a blob
	// request.
	plain, _ := name.NewTag("example.invalid:5000/site:v1", name.Insecure)
	quiet := log.New(io.Discard, "", 0)
	tlsSrv := httptest.NewUnstartedServer(registry.New(registry.Logger(quiet)))
	tlsSrv.Config.ErrorLog = quiet
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	tlsHost := strings.TrimPrefix(tlsSrv.URL, "https://")
	authHost := testregistry.New(t, testregistry.WithWrap(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
		})
	}))
	stalled := make(chan struct{})
	silentHost := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/v2/" {
				next.ServeHTTP(w, req)
				return
			}
			<-stalled
		})
	}))
	t.Cleanup(func() { close(stalled) }) // runs before the registry's cleanup, which waits for its handlers
	foreign := testDir(t, "keep.txt")

	checkAdvice(t, []adviceCase{
		{"jobs", "build", registryErr(publish.WithJobs(0)), []string{"--jobs must be at least 1, got 0"}, nil},
		{"timeout", "push", registryErr(publish.WithTimeout(0)), []string{"--registry-timeout must be positive, got 0s"}, nil},
		{"insecure registry", "push", registryErr(publish.WithInsecureRegistries("http://r.example")), []string{`--insecure-registry "http://r.example" must be a host or host:port`}, nil},
		{"mount from", "push", registryErr(publish.WithMountFrom("Bad Repo")), []string{`--mount-from "Bad Repo": `}, nil},
		{"upload mode", "build", registryErr(publish.WithUploadMode(publish.UploadMode(7))), []string{"--upload-mode 7 is not a mode"}, nil},
		{"upload chunk size", "push", registryErr(publish.WithUploadChunkSize(100)), []string{"--upload-chunk-size must be at least 65536 bytes (64 KiB), got 100"}, nil},
		{"registry profile", "push", registryErr(publish.WithRegistryProfile("r.example", "harbor")), []string{`--registry-profile "harbor" is not a known registry: use default, ghcr, ecr, gar, dockerhub, quay, acr`}, nil},
		{"plain HTTP", "push", push(plain), []string{`registry "example.invalid:5000" must use TLS (or pass --insecure-registry example.invalid:5000): plain HTTP is not allowed`}, []string{"allowed insecure access"}},
		{"untrusted TLS", "build", push(tag(tlsHost + "/site:v1")),
			[]string{`registry "` + tlsHost + `" must use TLS with a trusted certificate (or pass --insecure-registry ` + tlsHost + `): `, "certificate", "SSL_CERT_FILE"}, []string{"allowed insecure access"}},
		{"401", "push", push(tag(authHost + "/site:v1")),
			[]string{"401", "log in with 'assetpack login " + authHost + " -u USER --password-stdin' (or docker login), or check that this account may push"}, []string{"Registry.Login"}},
		{"slow registry", "build", pushWith(reg, tag(silentHost+"/site:v1")),
			[]string{silentHost + " did not answer within 200ms (retried; if the registry is just slow, raise --registry-timeout)"}, []string{"WithTimeout"}},
		{"missing source", "push", func() error {
			_, _, err := publish.Load(publish.Source{Target: publish.Target{Kind: publish.Layout, Path: "nothing"}})
			return err
		}(), []string{"oci:nothing: file does not exist; build it first with 'assetpack build DIR --output oci:nothing'"}, nil},
		{"foreign output", "build", func() error {
			_, err := publish.NewOutput(publish.Target{Kind: publish.Layout, Path: foreign})
			return err
		}(), []string{"; remove it or choose another --output"}, nil},
		{"no such flag", "version", registryErr(publish.WithJobs(0)), []string{"jobs must be at least 1, got 0"}, []string{"--jobs"}},
	})
}

func TestCosignFlagAdvice(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	prefix := filepath.Join(tmp, "cosign")
	if _, _, err := cosign.GenerateKeyPair(prefix, []byte("pass"), false); err != nil {
		t.Fatal(err)
	}
	verifier := func(vo cosign.VerifyOptions) error {
		_, err := cosign.NewVerifier(ctx, vo)
		return err
	}
	checkAdvice(t, []adviceCase{
		{"no identity token", "sign", func() error { _, err := cosign.NewKeylessSigner(ctx, cosign.KeylessOptions{}); return err }(),
			[]string{"keyless signing needs an OIDC identity token: pass --identity-token, or run where one is found (GitHub Actions with 'permissions: id-token: write', GitLab CI with id_tokens SIGSTORE_ID_TOKEN, Buildkite), or sign with --key"}, []string{"KeylessOptions"}},
		{"no ambient token", "sign", func() error {
			for _, v := range []string{"SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "BUILDKITE", "BUILDKITE_AGENT_ACCESS_TOKEN", "GITLAB_CI", "GITHUB_ACTIONS"} {
				t.Setenv(v, "")
			}
			_, err := sign.DiscoverIDToken(ctx)
			return err
		}(), []string{"looked for SIGSTORE_ID_TOKEN", "; or pass --identity-token, or sign with --key"}, nil},
		{"key pair exists", "generate-key-pair", func() error { _, _, err := cosign.GenerateKeyPair(prefix, []byte("x"), false); return err }(),
			[]string{"; pass --force to overwrite it or choose another --output-key-prefix"}, nil},
		{"missing key", "sign", func() error {
			_, err := cosign.NewKeySigner(ctx, filepath.Join(tmp, "none.key"), func() ([]byte, error) { return nil, nil })
			return err
		}(), []string{"; create one with 'assetpack generate-key-pair'"}, []string{"GenerateKeyPair"}},
		{"signature format", "sign", func() error { _, err := cosign.ParseFormat("v3"); return err }(),
			[]string{`--signature-format "v3": want bundle, legacy or both`}, nil},
		{"keyless trusted root", "verify", func() error {
			return verifier(cosign.VerifyOptions{Identity: "x", Issuer: "y", TUFCacheDir: t.TempDir(), TUFMirror: "http://127.0.0.1:9"})
		}(), []string{"pass --trusted-root trusted_root.json instead"}, []string{"TrustedRoot"}},
		{"keyless identity", "verify", verifier(cosign.VerifyOptions{}),
			[]string{"without --key, verification is keyless and needs --certificate-identity and --certificate-oidc-issuer (or their -regexp forms)"}, []string{"IdentityRegexp"}},
		{"key and identity", "verify", verifier(cosign.VerifyOptions{KeyRef: prefix + ".pub", Identity: "x"}),
			[]string{"--key and --certificate-identity/--certificate-oidc-issuer were both given"}, nil},
		{"log flags", "verify", verifier(cosign.VerifyOptions{KeyRef: prefix + ".pub", RequireTlog: true, IgnoreTlog: true}),
			[]string{"--require-tlog and --insecure-ignore-tlog contradict each other"}, []string{"RequireTlog"}},
		{"trusted root file", "verify", verifier(cosign.VerifyOptions{KeyRef: prefix + ".pub", TrustedRoot: filepath.Join(tmp, "none.json")}),
			[]string{`reading --trusted-root "`}, nil},
	})
}

func TestKubeFlagAdvice(t *testing.T) {
	const digestRef = "r.example/site@sha256:4f9d2b1c5e8a7f6d3c2b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
	mount := kube.Mount{Reference: digestRef, Containers: []string{"nginx"}, MountPath: "/usr/share/nginx/html"}
	k, _ := kube.KindByName("deployment")
	web := kube.Workload{Kind: k, Name: "web"}
	patch := func(change func(*kube.Mount)) error {
		m := mount
		change(&m)
		_, err := kube.StrategicPatch(web, m)
		return err
	}
	deployment := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: nginx, image: nginx}]
      volumes: [{name: assets, emptyDir: {}}]
`)
	kustomization := testDir(t)
	os.WriteFile(filepath.Join(kustomization, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"), 0o644)
	component := func() error {
		_, err := kube.WriteComponent(kustomization, web, mount, kube.ComponentOptions{})
		return err
	}
	checkAdvice(t, []adviceCase{
		{"mount path", "patch", patch(func(m *kube.Mount) { m.MountPath = "srv" }),
			[]string{`invalid Kubernetes output request: --mount-path "srv" must be an absolute path, such as /usr/share/nginx/html`}, nil},
		{"no container", "patch", patch(func(m *kube.Mount) { m.Containers = nil }),
			[]string{"--container is missing: name the container(s) that mount the volume"}, nil},
		{"sub-path", "build", patch(func(m *kube.Mount) { m.SubPath = "../etc" }), []string{`--sub-path "../etc" contains ".."`}, nil},
		{"workload", "patch", func() error { _, err := kube.ParseWorkload("web"); return err }(),
			[]string{`--workload "web" must be KIND/NAME, such as deployment/web`}, nil},
		{"format", "patch", func() error { _, err := kube.ParseFormat("yaml"); return err }(), []string{`--format "yaml" is not supported`}, nil},
		{"patch format", "build", func() error { _, err := kube.ParseFormat("yaml"); return err }(), []string{`--patch-format "yaml" is not supported`}, nil},
		{"pull policy", "migrate", func() error {
			_, _, err := kube.Migrate([]byte("{}"), kube.MigrateOptions{PullPolicy: "Often"})
			return err
		}(), []string{`--pull-policy "Often" must be Always, IfNotPresent or Never`}, nil},
		{"volume clash", "patch", func() error { _, err := kube.CheckAgainst(deployment, web, mount); return err }(),
			[]string{`--volume-name "assets" is already a volume of deployment/web with another source (emptyDir)`, "choose another volume name, or use --format json6902 to replace it"}, nil},
		{"kustomize dir", "build", component(), []string{"is a Kustomization, not a Component: choose another --kustomize directory"}, nil},
		{"component output", "patch", component(), []string{"is a Kustomization, not a Component: choose another --output directory"}, nil},
		{"no such flag", "version", patch(func(m *kube.Mount) { m.MountPath = "srv" }), []string{`mount path "srv" must be`}, []string{"--mount-path"}},
	})
}

func TestPolicyFlagAdvice(t *testing.T) {
	render := func(s policy.Spec) error {
		if s.Format == "" {
			s.Format = policy.Kyverno
		}
		_, err := policy.Render(s)
		return err
	}
	img := []string{"registry.example.com/web/*"}
	checkAdvice(t, []adviceCase{
		{"format", "policy", func() error { _, err := policy.ParseFormat("gatekeeper"); return err }(),
			[]string{`--format "gatekeeper": use kyverno or policy-controller`}, []string{"policy format"}},
		{"pattern", "policy", render(policy.Spec{Images: []string{"registry.example.com/web /*"}, PublicKey: []byte("x")}),
			[]string{`--image "registry.example.com/web /*": contains whitespace`}, nil},
		{"key", "policy", render(policy.Spec{Images: img, PublicKey: []byte("cosign.pub")}),
			[]string{"--key: not PEM; expected a public key file such as cosign.pub"}, []string{"public key:"}},
		{"issuer", "policy", render(policy.Spec{Images: img, Keyless: &policy.Keyless{Subject: "ci@example.com"}}),
			[]string{"--certificate-oidc-issuer: missing; keyless verification needs the OIDC issuer"}, nil},
		{"regexp", "policy", render(policy.Spec{Images: img, Keyless: &policy.Keyless{Subject: "ci@example.com", IssuerRegexp: "("}}),
			[]string{`--certificate-oidc-issuer-regexp "(": is not a regular expression`}, nil},
		{"rekor", "policy", render(policy.Spec{Images: img, Keyless: &policy.Keyless{Subject: "a", Issuer: "b"}, Tlog: &policy.Tlog{URL: "rekor"}}),
			[]string{`--rekor-url "rekor": must be an http(s) URL`}, nil},
		{"no such flag", "version", func() error { _, err := policy.ParseFormat("gatekeeper"); return err }(),
			[]string{`policy format "gatekeeper"`}, []string{"--format"}},
	})
}

func TestUnpackFlagAdvice(t *testing.T) {
	ctx := context.Background()
	site := testDir(t, "index.html")
	res, err := builder.Build(ctx, site, builder.WithGit(false), builder.WithPlatforms(
		v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	img, err := unpack.Select(res.Index, &v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	full := testDir(t, "mine.txt")
	checkAdvice(t, []adviceCase{
		{"not empty", "pull", func() error { _, err := unpack.ToDir(ctx, img, full); return err }(),
			[]string{`directory "` + full + `" is not empty; choose a new or empty directory, or pass --force to replace it`}, []string{"WithReplace"}},
		{"sub path", "pull", func() error { _, err := unpack.ToDir(ctx, img, t.TempDir(), unpack.WithSubPath("site")); return err }(),
			[]string{`--sub-path "site" is not in the image; it has no directories at its root`}, nil},
		{"no platform asked", "pull", func() error { _, err := unpack.Select(res.Index, nil); return err }(),
			[]string{"has 2 images (linux/arm64, linux/arm/v7) and none for linux/amd64; choose one with --platform"}, nil},
		{"platform missing", "pull", func() error {
			_, err := unpack.Select(res.Index, &v1.Platform{OS: "linux", Architecture: "s390x"})
			return err
		}(), []string{"has no image for linux/s390x; it has linux/arm64, linux/arm/v7; choose one with --platform"}, nil},
		{"no such flag", "version", func() error { _, err := unpack.ToDir(ctx, img, full); return err }(),
			[]string{"replace it (WithReplace)"}, []string{"--force"}},
	})
}
