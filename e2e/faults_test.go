//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proxyTo starts a reverse proxy to the registry on 127.0.0.1 whose
// behaviour per request is decided by hook (return true when it answered).
func proxyTo(t *testing.T, registryHost string, hook func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	target, _ := url.Parse("http://" + registryHost)
	rp := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hook != nil && hook(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func tagExists(t *testing.T, ref string) bool {
	t.Helper()
	r := runEnv(t, "/", nil, "", tool(t, "crane"), "digest", "--insecure", ref)
	return r.code == 0
}

func isManifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

// TestFaultyRegistries: a stalled registry, one that lies about the digest
// on read-back, and one that accepts a blob and then does not have it.
// Each fails with a clear error and no tag points at a partial image.
func TestFaultyRegistries(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)

	t.Run("stall", func(t *testing.T) {
		stop := make(chan struct{})
		defer close(stop)
		host := proxyTo(t, reg.Host, func(w http.ResponseWriter, r *http.Request) bool {
			if isManifestPut(r) {
				select { // never answer
				case <-r.Context().Done():
				case <-stop:
				}
				return true
			}
			return false
		})
		start := time.Now()
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", host+"/stall/site:v1", "--push", "--registry-timeout", "1s")
		if r.code != 1 || !strings.Contains(r.stderr, "did not answer within 1s") || !strings.Contains(r.stderr, host) {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("a stalled registry took %v to fail", d)
		}
		if tagExists(t, reg.Host+"/stall/site:v1") {
			t.Error("the tag exists after a failed push")
		}
	})

	t.Run("wrong digest on read-back", func(t *testing.T) {
		host := proxyTo(t, reg.Host, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/v1") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("e", 64))
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		})
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", host+"/liar/site:v1", "--push")
		if r.code != 1 || !strings.Contains(r.stderr, "different digest") || !strings.Contains(r.stderr, strings.Repeat("e", 64)) {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("blob accepted, then missing", func(t *testing.T) {
		host := proxyTo(t, reg.Host, func(w http.ResponseWriter, r *http.Request) bool {
			// Pretend every blob upload completed, without telling the registry.
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Docker-Content-Digest", r.URL.Query().Get("digest"))
				w.WriteHeader(http.StatusCreated)
				return true
			}
			return false
		})
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", host+"/ghost/site:v1", "--push")
		if r.code != 1 || !strings.Contains(r.stderr, host+"/ghost/site:v1") || !strings.Contains(r.stderr, "BLOB_UNKNOWN") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if tagExists(t, reg.Host+"/ghost/site:v1") {
			t.Error("the tag points at an image whose blobs are missing")
		}
	})
}

// TestInterruptedPush: SIGINT while the manifest is being written; the tag
// does not exist, and a re-run completes and sends no blob again.
func TestInterruptedPush(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	reached := make(chan struct{})
	var once sync.Once
	host := proxyTo(t, reg.Host, func(w http.ResponseWriter, r *http.Request) bool {
		if isManifestPut(r) {
			once.Do(func() { close(reached) })
			<-r.Context().Done()
			return true
		}
		return false
	})
	cmd := exec.Command(bin, "build", src, "--git=false", "-t", host+"/int/site:v1", "--push")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the push never reached the manifest")
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("interrupted push: %v, want exit 130; %s", err, stderr.String())
	}
	if tagExists(t, reg.Host+"/int/site:v1") {
		t.Fatal("an interrupted push left the tag")
	}
	again := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", reg.Host+"/int/site:v1", "--push", "--json")
	if again.code != 0 || !strings.Contains(again.stdout, `"sentBytes": 0`) {
		t.Errorf("re-run: exit %d, %s %s", again.code, again.stdout, again.stderr)
	}
}

// TestSecretsNeverLeak runs a whole session with --debug (registry login
// and push with a password, GITHUB_TOKEN set, signing with a password) and
// greps every output and every file written for the secrets.
func TestSecretsNeverLeak(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true, auth: true})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	const cosignPass = "Cosign-Pa55-Phrase-42"
	const ghToken = "ghs_TopSecretActionsToken123"
	docker := filepath.Join(work, ".docker")
	ghOut := filepath.Join(work, "gh-output")
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + docker, "SSL_CERT_FILE=" + reg.CAFile, "ASSETPACK_DEBUG=1",
		"COSIGN_PASSWORD=" + cosignPass, "GITHUB_TOKEN=" + ghToken, "GITHUB_OUTPUT=" + ghOut, "GITHUB_STEP_SUMMARY=" + filepath.Join(work, "gh-summary")}
	repo := reg.Host + "/secret/site"
	var outputs []string
	runStep := func(stdin string, args ...string) cmdResult {
		r := runEnv(t, work, env, stdin, bin, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		return r
	}
	runStep("", "generate-key-pair")
	keyPEM, _ := os.ReadFile(filepath.Join(work, "cosign.key"))
	runStep(reg.Pass+"\n", "login", reg.Host, "-u", reg.User, "--password-stdin")
	b := runStep("", "build", src, "--git=false", "-t", repo+":v1", "--push", "--sign", "--key", "cosign.key", "--sbom",
		"-o", "oci:layout", "--digest-file", "digest", "--patch-out", "patch.yaml", "--workload", "deployment/web", "--mount-path", "/srv", "--container", "web")
	runStep("", "verify", strings.TrimSpace(b.stdout), "--key", "cosign.pub", "--insecure-ignore-tlog", "--sbom")
	if !strings.Contains(strings.Join(outputs, ""), "debug: -->") {
		t.Fatal("--debug logged no requests: the test would prove nothing")
	}

	secrets := map[string]string{
		"registry password":    reg.Pass,
		"basic auth header":    base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Pass)),
		"cosign password":      cosignPass,
		"GITHUB_TOKEN":         ghToken,
		"private key material": string(keyPEM[60:120]),
	}
	check := func(where, text string) {
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s leaked into %s", what, where)
			}
		}
	}
	for i, o := range outputs {
		check("command output "+itoa(i), o)
	}
	filepath.Walk(work, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(p) == "cosign.key" || p == filepath.Join(docker, "config.json") || strings.HasPrefix(p, filepath.Join(work, "site")) {
			return nil // the credential store and the key file hold secrets by design
		}
		b, _ := os.ReadFile(p)
		check(p, string(b))
		return nil
	})
}
