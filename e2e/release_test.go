//go:build e2e

package e2e

import (
	"encoding/json"
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
// linux/arm64 binaries of a GoReleaser dist directory, packed by the
// dist's own amd64 binary with --platform-dir into an index, pushed to the
// local registry and signed with a key. It then checks the index, the
// signature (assetpack verify), and installs from the image as the README
// shows, with no container runtime: `assetpack pull` and `crane export` of
// linux/amd64, then `assetpack version` run from the extracted tree.
//
// The dist directory is $ASSETPACK_RELEASE_DIST when set (make
// release-check's dist), else one the test builds with the same layout and
// flags as GoReleaser (dist/assetpack_linux_<arch>_<level>/assetpack,
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
	entries, _ := os.ReadDir(filepath.Join(work, "pulled"))
	if len(entries) != 1 || entries[0].Name() != "assetpack" {
		t.Errorf("the pulled tree holds %v, want only assetpack", entries)
	}
	wantVersion(t, filepath.Join(work, "pulled", "assetpack"), meta.Version)

	// With crane export, no assetpack needed.
	exported := filepath.Join(work, "exported")
	os.Mkdir(exported, 0o755)
	if r := runEnv(t, work, nil, "", "bash", "-c", `"$0" export --insecure --platform linux/amd64 "$1" - | tar -x -C "$2" assetpack`, crane, repo+":latest", exported); r.code != 0 {
		t.Fatalf("crane export: %s", r.stderr)
	}
	wantVersion(t, filepath.Join(exported, "assetpack"), meta.Version)

	// The arm64 image holds an arm64 program.
	if p := runEnv(t, work, env, "", bin, "pull", ref, "pulled-arm", "--platform", "linux/arm64", "-q"); p.code != 0 {
		t.Fatalf("pull arm64: exit %d: %s", p.code, p.stderr)
	}
	if arm, _ := os.ReadFile(filepath.Join(work, "pulled-arm", "assetpack")); len(arm) < 20 || string(arm[:4]) != "\x7fELF" || arm[18] != 0xb7 {
		t.Errorf("the arm64 image does not hold an arm64 ELF program (%d bytes)", len(arm))
	}

	// Without the arm64 binary the script says what is missing.
	partial := filepath.Join(work, "partial")
	amd64, _ := filepath.Glob(filepath.Join(dist, "*_linux_amd64*", "assetpack"))
	os.MkdirAll(filepath.Join(partial, "assetpack_linux_amd64_v1"), 0o755)
	if len(amd64) != 1 || os.Symlink(amd64[0], filepath.Join(partial, "assetpack_linux_amd64_v1", "assetpack")) != nil {
		t.Fatalf("no amd64 binary to link in %s: %v", dist, amd64)
	}
	if r := runEnv(t, work, env, "", script, partial); r.code == 0 || !strings.Contains(r.stderr, "linux/arm64") {
		t.Errorf("release-image.sh without binaries: exit %d: %s", r.code, r.stderr)
	}
}

// buildDist builds assetpack for linux/amd64 and linux/arm64 into dir as
// GoReleaser lays them out, with metadata.json naming version.
func buildDist(t *testing.T, dir, version string) {
	t.Helper()
	for _, p := range []struct{ arch, sub string }{{"amd64", "assetpack_linux_amd64_v1"}, {"arm64", "assetpack_linux_arm64_v8.0"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/assetpack/assetpack/cmd/assetpack/cli.version="+version,
			"-o", filepath.Join(dir, p.sub, "assetpack"), "../cmd/assetpack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+p.arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build for linux/%s: %v\n%s", p.arch, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"project_name":"assetpack","version":"`+version+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantVersion runs `BINARY version --json` and checks the version.
func wantVersion(t *testing.T, binary, want string) {
	t.Helper()
	var v struct{ Version string }
	if err := json.Unmarshal([]byte(run(t, filepath.Dir(binary), binary, "version", "--json")), &v); err != nil || v.Version != want {
		t.Errorf("%s version --json: version %q (%v), want %q", binary, v.Version, err, want)
	}
}
