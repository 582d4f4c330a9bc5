//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// indexDigests lists the digests of the tag-schema index of repo@digest,
// sorted ("" entries when there is none).
func indexDigests(t *testing.T, repo, digest string) []string {
	t.Helper()
	var out []string
	for _, d := range referrerIndex(t, repo, digest) {
		out = append(out, d.Digest)
	}
	slices.Sort(out)
	return out
}

// TestCopyBetweenRegistries promotes a signed, attested two-platform index
// from one real registry process to another: same digest, every referrer
// (assetpack's bundles and legacy tags, cosign v3's bundle, of the index and
// of each platform manifest) and cosign v2 and v3 verify at the
// destination, the signature, the SBOM and the provenance (as assetpack
// verify --sbom and --attestation-type do). Within one registry the blobs are mounted.
func TestCopyBetweenRegistries(t *testing.T) {
	staging, prod := startRegistry(t, registryOpts{}), startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	runEnv(t, work, env, "", bin, "generate-key-pair")
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	offline := []string{"--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot}

	from := staging.Host + "/web/site"
	b := runEnv(t, work, env, "", bin, "build", src, "--git=false", "--platform", "linux/amd64,linux/arm64", "-t", from+":v1", "--push",
		"--sign", "--key", "cosign.key", "--signature-format", "both")
	if b.code != 0 {
		t.Fatalf("build: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	digest := ref[strings.Index(ref, "@")+1:]
	cosign3 := cosignCLI(t, "v3.1.3")
	if r := runEnv(t, work, env, "", cosign3, "sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", "--use-signing-config=false", "--allow-insecure-registry", ref); r.code != 0 {
		t.Fatalf("cosign v3 sign: exit %d: %s", r.code, r.stderr)
	}
	raw, _ := getManifest(t, from, digest)
	var idx struct{ Manifests []ociDesc }
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index %s: %v", raw, err)
	}
	subjects := []string{digest, idx.Manifests[0].Digest, idx.Manifests[1].Digest}

	to := prod.Host + "/web/site"
	c := runEnv(t, work, env, "", bin, "copy", from+":v1", to+":v1", "--require-signature", "--key", "cosign.pub")
	if c.code != 0 || strings.TrimSpace(c.stdout) != to+"@"+digest || !strings.Contains(c.stderr, "tagged "+to+":v1") {
		t.Fatalf("copy: exit %d: %s %s", c.code, c.stdout, c.stderr)
	}
	if got := strings.TrimSpace(runEnv(t, work, nil, "", tool(t, "crane"), "digest", "--insecure", to+":v1").stdout); got != digest {
		t.Errorf("destination tag points to %q, want %s", got, digest)
	}
	for _, s := range subjects {
		if want, got := indexDigests(t, from, s), indexDigests(t, to, s); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("referrers of %s: %v at the destination, %v at the source", s, got, want)
		}
		for _, suffix := range []string{".sig", ".att"} {
			_, want := getManifest(t, from, fallbackTag(s)+suffix)
			if _, got := getManifest(t, to, fallbackTag(s)+suffix); got.Digest != want.Digest {
				t.Errorf("%s%s: %s at the destination, %s at the source", s, suffix, got.Digest, want.Digest)
			}
		}
	}
	for _, ver := range []string{"v2.6.5", "v3.1.3"} {
		cosign := cosignCLI(t, ver)
		if r := runEnv(t, work, env, "", cosign, append(append([]string{"verify"}, offline...), to+":v1")...); r.code != 0 {
			t.Errorf("cosign %s verify at the destination: exit %d: %s", ver, r.code, r.stderr)
		}
		for _, typ := range []string{"spdxjson", "slsaprovenance1"} {
			if r := runEnv(t, work, env, "", cosign, append(append([]string{"verify-attestation", "--type", typ}, offline...), to+":v1")...); r.code != 0 {
				t.Errorf("cosign %s verify-attestation --type %s at the destination: exit %d: %s", ver, typ, r.code, r.stderr)
			}
		}
	}
	if r := runEnv(t, work, env, "", bin, "verify", to+":v1", "--key", "cosign.pub"); r.code != 0 || !strings.Contains(r.stderr, "3 valid signature(s)") {
		t.Errorf("assetpack verify at the destination: exit %d: %s", r.code, r.stderr)
	}
	for _, a := range []struct{ flag, want string }{{"--sbom", `"spdxVersion":"SPDX-2.3"`}, {"--attestation-type=slsaprovenance1", `"buildType":"https://assetpack.dev/build/v1"`}} {
		if r := runEnv(t, work, env, "", bin, "verify", to+":v1", "--key", "cosign.pub", a.flag); r.code != 0 || !strings.Contains(r.stdout, a.want) {
			t.Errorf("assetpack verify %s at the destination: exit %d: %.300s %s", a.flag, r.code, r.stdout, r.stderr)
		}
	}

	// Within one registry: blobs are mounted, not sent.
	m := runEnv(t, work, env, "", bin, "copy", ref, staging.Host+"/mirror/site")
	if m.code != 0 || !strings.Contains(m.stderr, "0 B sent") || strings.Contains(m.stderr, " 0 blob(s) mounted") {
		t.Errorf("copy within a registry: exit %d: %s", m.code, m.stderr)
	}
}

// TestCopyRefusedHalfway: a destination that refuses the second referrer
// keeps no tag pointing at an incomplete set (neither the image's tag nor a
// referrers index nor a legacy tag), and the error says what was copied.
func TestCopyRefusedHalfway(t *testing.T) {
	staging, prod := startRegistry(t, registryOpts{}), startRegistry(t, registryOpts{})
	var referrers atomic.Int32
	proxy := proxyTo(t, prod.Host, func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifestPut(r) {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if bytes.Contains(body, []byte(`"subject"`)) && referrers.Add(1) == 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"artifacts are not allowed in this repository"}]}`))
			return true
		}
		return false
	})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	runEnv(t, work, env, "", bin, "generate-key-pair")
	b := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", staging.Host+"/web/site:v1", "--push", "--sign", "--key", "cosign.key", "--signature-format", "both")
	if b.code != 0 {
		t.Fatalf("build: exit %d: %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	digest := ref[strings.Index(ref, "@")+1:]
	to := proxy + "/web/site"
	c := runEnv(t, work, env, "", bin, "copy", ref, to+":v1", "--insecure-registry", proxy)
	if c.code != 1 || !strings.Contains(c.stderr, "artifacts are not allowed") || !strings.Contains(c.stderr, "copied by digest, untagged: image "+to+"@"+digest) ||
		!strings.Contains(c.stderr, "no tag was written in "+to) {
		t.Fatalf("copy to a registry that refuses a referrer: exit %d: %s", c.code, c.stderr)
	}
	for _, tag := range []string{"v1", fallbackTag(digest), fallbackTag(digest) + ".sig", fallbackTag(digest) + ".att"} {
		if tagExists(t, prod.Host+"/web/site:"+tag) {
			t.Errorf("the destination has the tag %s", tag)
		}
	}
}
