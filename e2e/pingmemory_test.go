//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPingMemory: build --push with a build cache keeps, in the cache, how
// each real registry answered its ping, and the next push opens its
// session from that answer (--debug tells): against docker-registry behind
// TLS with htpasswd (a Basic challenge), and behind the token proxy of the
// quirk tests (a Bearer challenge, its token server on its own host, as on
// GHCR). A registry that answers otherwise now (another docker-registry on
// the same address, with authentication where there was none) is pinged
// again, and the push goes through.
func TestPingMemory(t *testing.T) {
	crane := tool(t, "crane")
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	push := func(t *testing.T, env []string, cache, ref string) cmdResult {
		t.Helper()
		r := runEnv(t, work, env, "", bin, "build", src, "--git=false", "--cache-dir", cache, "-t", ref, "--push", "--debug")
		if r.code != 0 {
			t.Fatalf("push to %s: exit %d: %s", ref, r.code, r.stderr)
		}
		return r
	}
	remembered := func(t *testing.T, r cmdResult, host string) {
		t.Helper()
		for _, want := range []string{"/v2/ answered from memory", "uploaded 0 B"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("re-push to %s: no %q in\n%s", host, want, r.stderr)
			}
		}
		for _, scheme := range []string{"http", "https"} {
			if strings.Contains(r.stderr, "--> GET "+scheme+"://"+host+"/v2/ ") {
				t.Errorf("re-push pinged %s:\n%s", host, r.stderr)
			}
		}
	}

	t.Run("basic", func(t *testing.T) {
		reg := startRegistry(t, registryOpts{tls: true, auth: true})
		env := []string{"HOME=" + work, "DOCKER_CONFIG=" + dockerConfig(t, reg.Host, reg.User, reg.Pass), "SSL_CERT_FILE=" + reg.CAFile}
		cache := filepath.Join(work, "cache-basic")
		ref := reg.Host + "/memory/site:v1"
		first := push(t, env, cache, ref)
		if !strings.Contains(first.stderr, "--> GET https://"+reg.Host+"/v2/ ") {
			t.Errorf("first push did not ping %s:\n%s", reg.Host, first.stderr)
		}
		remembered(t, push(t, env, cache, ref), reg.Host)
		if got := strings.TrimSpace(runEnv(t, work, env, "", crane, "digest", ref).stdout); !strings.HasPrefix(got, "sha256:") {
			t.Errorf("crane digest %s = %q", ref, got)
		}
	})

	t.Run("bearer", func(t *testing.T) {
		reg := startRegistry(t, registryOpts{})
		p := newQuirkProxy(t, reg.Host, quirks{tokenTTL: time.Minute}, 0)
		env := []string{"HOME=" + work, "DOCKER_CONFIG=" + dockerConfig(t, p.host, p.user, p.pass)}
		cache := filepath.Join(work, "cache-bearer")
		ref := p.host + "/memory/site:v1"
		push(t, env, cache, ref)
		before401, beforeTokens := p.count("401"), p.count("token")
		remembered(t, push(t, env, cache, ref), p.host)
		// From memory the token comes first: no request is refused.
		if n := p.count("401") - before401; n != 0 {
			t.Errorf("the re-push was refused %d times, want 0 (its token fetched before any request)", n)
		}
		if n := p.count("token") - beforeTokens; n != 1 {
			t.Errorf("the re-push fetched %d tokens, want 1", n)
		}
		craneReadsBack(t, crane, reg.Host+"/memory/site:v1")
	})

	t.Run("changed", func(t *testing.T) {
		open := startRegistry(t, registryOpts{})
		_, port, _ := strings.Cut(open.Host, ":")
		cache := filepath.Join(work, "cache-changed")
		ref := open.Host + "/memory/site:v1"
		push(t, []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, "none")}, cache, ref)
		open.stop(t)
		n, _ := strconv.Atoi(port)
		locked := startRegistry(t, registryOpts{tls: true, auth: true, port: n})
		env := []string{"HOME=" + work, "DOCKER_CONFIG=" + dockerConfig(t, locked.Host, locked.User, locked.Pass), "SSL_CERT_FILE=" + locked.CAFile}
		// Remembered: no TLS there, so plain HTTP, which the registry now
		// refuses. The push pings it (over TLS now), and everything goes up
		// to the empty registry.
		r := push(t, env, cache, ref)
		for _, want := range []string{"answered from memory", "does not answer as remembered: pinging it", "--> GET https://" + locked.Host + "/v2/ "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("push to the changed registry: no %q in\n%s", want, r.stderr)
			}
		}
		if got := strings.TrimSpace(runEnv(t, work, env, "", crane, "digest", ref).stdout); !strings.HasPrefix(got, "sha256:") {
			t.Errorf("crane digest %s = %q", ref, got)
		}
		// The new answer is remembered.
		remembered(t, push(t, env, cache, ref), locked.Host)
		if es, err := os.ReadDir(filepath.Join(cache, "registries")); err != nil || len(es) == 0 {
			t.Errorf("%s/registries: %d answers, %v", cache, len(es), err)
		}
	})
}
