//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestReleaseImage packs assetpack's own image the way a release does
// (hack/release-image.sh, `make release-image`): the linux/amd64 and
// linux/arm64 binaries of a GoReleaser dist directory, assetpack (-tags
// lite) and assetpack-sigstore (the default build) for each, packed by the
// dist's own amd64 assetpack with --platform-dir into an index, pushed to
// the local registry and signed with a key (handed to the dist's
// assetpack-sigstore). It then checks the index, the signature (assetpack
// verify), and installs from the image as the README shows, with no
// container runtime: `assetpack pull` and `crane export` of linux/amd64
// (both binaries, mode 0755, nothing else), then `version` run from the
// extracted trees and `assetpack generate-key-pair`, which only
// assetpack-sigstore runs, from the pulled one.
//
// The dist directory is $ASSETPACK_RELEASE_DIST when set (make
// release-check's dist), else one the test builds with the same layout and
// flags as GoReleaser (dist/assetpack_linux_<arch>_<level>/assetpack,
// dist/assetpack-sigstore_linux_<arch>_<level>/assetpack-sigstore,
// -trimpath, CGO_ENABLED=0, the version stamped with -X).
func TestReleaseImage(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 binary")
	}
	crane := tool(t, "crane")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	dist := os.Getenv("ASSETPACK_RELEASE_DIST")
	if dist == "" {
		dist = filepath.Join(work, "dist")
		buildDist(t, dist, "9.9.9-e2e")
	}
	var meta struct{ Version string }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dist, "metadata.json"))), &meta); err != nil || meta.Version == "" {
		t.Fatalf("%s/metadata.json: version %q, %v", dist, meta.Version, err)
	}
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"), "COSIGN_PASSWORD=release-pass"}
	if r := runEnv(t, work, env, "", bin, "generate-key-pair"); r.code != 0 {
		t.Fatalf("generate-key-pair: %s", r.stderr)
	}
	script, err := filepath.Abs("../hack/release-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := reg.Host + "/assetpack/assetpack"
	push := []string{dist, "-t", repo + ":v" + meta.Version, "-t", repo + ":latest", "--push", "--sign", "--key", filepath.Join(work, "cosign.key")}
	b := runEnv(t, work, env, "", script, push...)
	if b.code != 0 || !strings.HasPrefix(b.stdout, repo+"@sha256:") {
		t.Fatalf("release-image.sh: exit %d, stdout %q: %s", b.code, b.stdout, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	digest := ref[strings.Index(ref, "@")+1:]

	// Built again: the same digest.
	if again := runEnv(t, work, env, "", script, dist, "--output", "oci:"+filepath.Join(work, "layout")); again.code != 0 || !strings.HasSuffix(strings.TrimSpace(again.stdout), "@"+digest) {
		t.Errorf("second build: exit %d, stdout %q, want digest %s: %s", again.code, again.stdout, digest, again.stderr)
	}

	var index struct {
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations"`
		Manifests   []struct {
			Platform struct{ OS, Architecture string }
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(run(t, work, crane, "manifest", "--insecure", repo+":latest")), &index); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range index.Manifests {
		platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	sort.Strings(platforms)
	if index.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(platforms, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("index %s for %v, want an OCI index for linux/amd64 and linux/arm64", index.MediaType, platforms)
	}
	if got := index.Annotations["org.opencontainers.image.version"]; got != meta.Version {
		t.Errorf("index annotation org.opencontainers.image.version = %q, want %q", got, meta.Version)
	}

	// The signature verifies with the public key, the index and each platform.
	if v := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--insecure-ignore-tlog"); v.code != 0 {
		t.Errorf("verify %s: exit %d: %s", ref, v.code, v.stderr)
	}

	// Install with assetpack pull, as the README shows.
	if p := runEnv(t, work, env, "", bin, "pull", repo+":v"+meta.Version, "pulled", "--platform", "linux/amd64", "-q"); p.code != 0 {
		t.Fatalf("pull: exit %d: %s", p.code, p.stderr)
	}
	pulled := filepath.Join(work, "pulled")
	entries, _ := os.ReadDir(pulled)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "assetpack assetpack-sigstore" {
		t.Errorf("the pulled tree holds %v, want only assetpack and assetpack-sigstore", names)
	}
	wantVersion(t, filepath.Join(pulled, "assetpack"), meta.Version)
	wantVersion(t, filepath.Join(pulled, "assetpack-sigstore"), meta.Version)

	// The pulled assetpack hands generate-key-pair to the assetpack-sigstore
	// beside it: no ASSETPACK_SIGSTORE, and a PATH without any.
	keys, noPath := filepath.Join(work, "keys"), filepath.Join(work, "empty-path")
	os.Mkdir(keys, 0o755)
	os.Mkdir(noPath, 0o755)
	isolated := append(env[:len(env):len(env)], "PATH="+noPath, "ASSETPACK_SIGSTORE=")
	if r := runEnv(t, keys, isolated, "", filepath.Join(pulled, "assetpack"), "generate-key-pair"); r.code != 0 {
		t.Errorf("the pulled assetpack generate-key-pair: exit %d: %s", r.code, r.stderr)
	} else if key := readFile(t, filepath.Join(keys, "cosign.key")); !strings.Contains(key, "PRIVATE KEY") {
		t.Errorf("the pulled assetpack generate-key-pair wrote cosign.key = %q", key)
	}
	// Alone, it cannot: so the image's assetpack is the lite build, and the
	// key above came from the image's assetpack-sigstore.
	alone := filepath.Join(work, "alone")
	os.Mkdir(alone, 0o755)
	if data, err := os.ReadFile(filepath.Join(pulled, "assetpack")); err != nil || os.WriteFile(filepath.Join(alone, "assetpack"), data, 0o755) != nil {
		t.Fatalf("copying the pulled assetpack: %v", err)
	}
	if r := runEnv(t, alone, isolated, "", filepath.Join(alone, "assetpack"), "generate-key-pair"); r.code != 1 || !strings.Contains(r.stderr, "assetpack-sigstore") {
		t.Errorf("the pulled assetpack without assetpack-sigstore: generate-key-pair exit %d, want 1 and an error naming assetpack-sigstore: %s", r.code, r.stderr)
	}

	// With crane export, no assetpack needed: the layer holds the two
	// binaries, mode 0755, and nothing else.
	exported := filepath.Join(work, "exported")
	os.Mkdir(exported, 0o755)
	exportedTar := filepath.Join(work, "exported.tar")
	if r := runEnv(t, work, nil, "", "bash", "-c", `"$0" export --insecure --platform linux/amd64 "$1" - > "$2"`, crane, repo+":latest", exportedTar); r.code != 0 {
		t.Fatalf("crane export: %s", r.stderr)
	}
	if got := extractTar(t, exportedTar, exported); got != "assetpack 0755, assetpack-sigstore 0755" {
		t.Errorf("crane export of linux/amd64 holds %s, want assetpack 0755, assetpack-sigstore 0755", got)
	}
	wantVersion(t, filepath.Join(exported, "assetpack"), meta.Version)
	wantVersion(t, filepath.Join(exported, "assetpack-sigstore"), meta.Version)

	// The arm64 image holds an arm64 program.
	if p := runEnv(t, work, env, "", bin, "pull", ref, "pulled-arm", "--platform", "linux/arm64", "-q"); p.code != 0 {
		t.Fatalf("pull arm64: exit %d: %s", p.code, p.stderr)
	}
	for _, name := range []string{"assetpack", "assetpack-sigstore"} {
		if arm, _ := os.ReadFile(filepath.Join(work, "pulled-arm", name)); len(arm) < 20 || string(arm[:4]) != "\x7fELF" || arm[18] != 0xb7 {
			t.Errorf("the arm64 image does not hold an arm64 ELF program %s (%d bytes)", name, len(arm))
		}
	}

	// Without the arm64 binaries the script says what is missing.
	partial := filepath.Join(work, "partial")
	for _, name := range []string{"assetpack", "assetpack-sigstore"} {
		amd64, _ := filepath.Glob(filepath.Join(dist, "*_linux_amd64*", name))
		sub := filepath.Join(partial, name+"_linux_amd64_v1")
		os.MkdirAll(sub, 0o755)
		if len(amd64) != 1 || os.Symlink(amd64[0], filepath.Join(sub, name)) != nil {
			t.Fatalf("no amd64 %s to link in %s: %v", name, dist, amd64)
		}
	}
	if r := runEnv(t, work, env, "", script, partial); r.code == 0 || !strings.Contains(r.stderr, "linux/arm64") {
		t.Errorf("release-image.sh without binaries: exit %d: %s", r.code, r.stderr)
	}
}

// buildDist builds assetpack (-tags lite) and assetpack-sigstore (the
// default build) for linux/amd64 and linux/arm64 into dir as GoReleaser
// lays them out, each build in a directory of its own, with metadata.json
// naming version.
func buildDist(t *testing.T, dir, version string) {
	t.Helper()
	for _, p := range []struct{ arch, level string }{{"amd64", "v1"}, {"arm64", "v8.0"}} {
		for _, b := range []struct{ name, tags string }{{"assetpack", "lite"}, {"assetpack-sigstore", ""}} {
			cmd := exec.Command("go", "build", "-tags", b.tags, "-trimpath", "-ldflags", "-s -w -X github.com/assetpack/assetpack/cmd/assetpack/cli.version="+version,
				"-o", filepath.Join(dir, b.name+"_linux_"+p.arch+"_"+p.level, b.name), "../cmd/assetpack")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+p.arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build of %s for linux/%s: %v\n%s", b.name, p.arch, err, out)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"project_name":"assetpack","version":"`+version+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// extractTar writes the regular files at the root of the tar file src
// into dir and returns every entry with its mode (or type), sorted:
// "NAME 0755, NAME 0644".
func extractTar(t *testing.T, src, dir string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", src, err)
		}
		if h.Typeflag != tar.TypeReg {
			got = append(got, fmt.Sprintf("%s (type %c)", h.Name, h.Typeflag))
			continue
		}
		got = append(got, fmt.Sprintf("%s %04o", h.Name, h.Mode&0o7777))
		if strings.Contains(h.Name, "/") {
			continue // reported, not written
		}
		out, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatalf("extracting %s from %s: %v", h.Name, src, err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(got)
	return strings.Join(got, ", ")
}

// wantVersion runs `BINARY version --json` and checks the version.
func wantVersion(t *testing.T, binary, want string) {
	t.Helper()
	var v struct{ Version string }
	if err := json.Unmarshal([]byte(run(t, filepath.Dir(binary), binary, "version", "--json")), &v); err != nil || v.Version != want {
		t.Errorf("%s version --json: version %q (%v), want %q", binary, v.Version, err, want)
	}
}
