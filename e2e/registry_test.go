//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestPushPlainRegistry pushes to the real registry over plain HTTP on
// 127.0.0.1 and reads everything back with crane and skopeo.
func TestPushPlainRegistry(t *testing.T) {
	crane, skopeo := tool(t, "crane"), tool(t, "skopeo")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}

	repo := reg.Host + "/web/site-assets"
	r := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v42", "-t", repo+":latest", "--push", "--output", "oci:layout")
	if r.code != 0 {
		t.Fatalf("build --push: exit %d: %s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(repo) + `@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q", r.stdout)
	}
	digest := m[1]

	// crane: both tags resolve to the digest; manifest and config bytes are ours.
	for _, tag := range []string{"v42", "latest"} {
		if got := strings.TrimSpace(run(t, work, crane, "digest", "--insecure", repo+":"+tag)); got != digest {
			t.Errorf("crane digest %s:%s = %s, want %s", repo, tag, got, digest)
		}
	}
	manifest := run(t, work, crane, "manifest", "--insecure", repo+"@"+digest)
	if sha(manifest) != digest {
		t.Errorf("crane manifest hashes to %s, want %s", sha(manifest), digest)
	}
	local := run(t, work, skopeo, "inspect", "--raw", "oci:layout:latest")
	if manifest != local {
		t.Errorf("pushed manifest differs from the local layout's:\n%s\n%s", manifest, local)
	}
	cfg := run(t, work, crane, "config", "--insecure", repo+":v42")
	if !strings.Contains(cfg, `"architecture":"amd64"`) || !strings.Contains(cfg, `"diff_ids"`) {
		t.Errorf("config = %s", cfg)
	}
	// skopeo reads it through docker:// and copies it into a layout that
	// unpacks to the source tree.
	raw := run(t, work, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+repo+":v42")
	if sha(raw) != digest {
		t.Errorf("skopeo inspect --raw hashes to %s, want %s", sha(raw), digest)
	}
	run(t, work, skopeo, "copy", "--src-tls-verify=false", "docker://"+repo+"@"+digest, "oci:pulled:v1")
	run(t, work, tool(t, "umoci"), "unpack", "--rootless", "--image", "pulled:v1", "bundle")
	compareTrees(t, snapshot(t, filepath.Join(work, "bundle", "rootfs")), normalised(snapshot(t, src)))

	// push of the layout and of an archive: same digest, nothing re-sent.
	again := runEnv(t, work, env, "", bin, "push", "oci:layout@"+digest, repo+":copy", "--json")
	if again.code != 0 || !strings.Contains(again.stdout, `"sentBytes": 0`) || !strings.Contains(again.stdout, digest) {
		t.Errorf("push oci:layout: exit %d: %s %s", again.code, again.stdout, again.stderr)
	}
	runEnv(t, work, env, "", bin, "build", src, "--git=false", "-o", "tar:site.tar")
	arch := runEnv(t, work, env, "", bin, "push", "tar:site.tar", reg.Host+"/other/site:v1")
	if arch.code != 0 || strings.TrimSpace(arch.stdout) != reg.Host+"/other/site@"+digest {
		t.Errorf("push tar: exit %d: %q %s", arch.code, arch.stdout, arch.stderr)
	}
}

// TestPushTLSAuth uses a registry behind TLS (self-signed CA) and htpasswd.
func TestPushTLSAuth(t *testing.T) {
	crane, skopeo := tool(t, "crane"), tool(t, "skopeo")
	reg := startRegistry(t, registryOpts{tls: true, auth: true})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	dockerCfg := filepath.Join(work, ".docker")
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + dockerCfg, "SSL_CERT_FILE=" + reg.CAFile}
	repo := reg.Host + "/secure/site"

	// Without the CA the TLS error names the registry.
	noCA := runEnv(t, work, []string{"HOME=" + work, "DOCKER_CONFIG=" + dockerCfg}, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push")
	if noCA.code != 1 || !strings.Contains(noCA.stderr, reg.Host) || !strings.Contains(noCA.stderr, "certificate") {
		t.Errorf("untrusted CA: exit %d: %s", noCA.code, noCA.stderr)
	}
	t.Logf("untrusted CA: %s", noCA.stderr)
	// Not logged in: 401 with a hint.
	anon := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push")
	if anon.code != 1 || !strings.Contains(anon.stderr, "401") || !strings.Contains(anon.stderr, "assetpack login "+reg.Host) {
		t.Errorf("anonymous push: exit %d: %s", anon.code, anon.stderr)
	}
	// Wrong password: a clear 401, the password never printed.
	bad := runEnv(t, work, env, "Wrong-Pass-123\n", bin, "login", reg.Host, "-u", reg.User, "--password-stdin")
	if bad.code != 1 || !strings.Contains(bad.stderr, "401") || strings.Contains(bad.stderr, "Wrong-Pass-123") {
		t.Errorf("login with a wrong password: exit %d: %s", bad.code, bad.stderr)
	}
	good := runEnv(t, work, env, reg.Pass+"\n", bin, "login", reg.Host, "-u", reg.User, "--password-stdin")
	if good.code != 0 || strings.Contains(good.stderr+good.stdout, reg.Pass) {
		t.Fatalf("login: exit %d: %s", good.code, good.stderr)
	}
	r := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push", "--digest-file", "digest")
	if r.code != 0 || strings.Contains(r.stderr, "plain HTTP") {
		t.Fatalf("push over TLS: exit %d: %s", r.code, r.stderr)
	}
	digest := strings.TrimSpace(readFile(t, filepath.Join(work, "digest")))
	// crane finds the stored credentials (same Docker config) and trusts the CA.
	if got := strings.TrimSpace(runEnv(t, work, env, "", crane, "digest", repo+":v1").stdout); got != digest {
		t.Errorf("crane digest = %q, want %s", got, digest)
	}
	sk := runEnv(t, work, env, "", skopeo, "inspect", "--raw", "--authfile", filepath.Join(dockerCfg, "config.json"),
		"--cert-dir", reg.CertDir, "docker://"+repo+":v1")
	if sk.code != 0 || sha(sk.stdout) != digest {
		t.Errorf("skopeo inspect: exit %d, %s: manifest %s, want %s", sk.code, sk.stderr, sha(sk.stdout), digest)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPushThroughFaultyProxy puts a fault-injecting reverse proxy in front
// of the real registry: 500s, 429s (with and without Retry-After), 503s and
// dropped connections on the first request of each kind. The push succeeds
// with the digest of a clean push.
func TestPushThroughFaultyProxy(t *testing.T) {
	crane := tool(t, "crane")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	clean := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", reg.Host+"/clean/site:v1", "--push")
	if clean.code != 0 {
		t.Fatal(clean.stderr)
	}
	want := clean.stdout[strings.Index(clean.stdout, "@")+1:]

	target, _ := url.Parse("http://" + reg.Host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	seen := map[string]bool{}
	faults := map[string]int{}
	n := 0
	uploadID := regexp.MustCompile(`/uploads/[^/?]+`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key := req.Method + " " + uploadID.ReplaceAllString(req.URL.Path, "/uploads/ID")
		mu.Lock()
		first := !seen[key] && key != "GET /v2/"
		seen[key] = true
		kind := -1
		if first {
			kind = n % 5
			n++
		}
		mu.Unlock()
		switch kind {
		case 0:
			w.WriteHeader(http.StatusInternalServerError)
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case 4:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			proxy.ServeHTTP(w, req)
			return
		}
		mu.Lock()
		faults[[]string{"500", "429 Retry-After", "429", "reset", "503"}[kind]]++
		mu.Unlock()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	host := l.Addr().String()
	r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", host+"/flaky/site:v1", "--push")
	if r.code != 0 {
		t.Fatalf("push through faults: exit %d: %s", r.code, r.stderr)
	}
	if got := r.stdout[strings.Index(r.stdout, "@")+1:]; got != want {
		t.Errorf("digest through faults = %s, want %s", got, want)
	}
	if got := strings.TrimSpace(run(t, work, crane, "digest", "--insecure", reg.Host+"/flaky/site:v1")); got+"\n" != want {
		t.Errorf("registry holds %s, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(faults) < 5 {
		t.Errorf("faults injected: %v; want every kind", faults)
	}
}
