//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// hello is the program packed per platform: it prints its own platform.
const hello = `package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println("hello from", runtime.GOOS+"/"+runtime.GOARCH) }
`

// TestPlatformDirs builds, the way `make release-image` packs the release
// binaries, an index from one directory per platform (a tiny static
// program compiled for linux/amd64 and for linux/arm64), pushes it to the
// local registry, checks that each manifest's config names its platform
// and that a second build gives the same digest, then gets the amd64
// program back with `crane export` and with `assetpack pull` and runs it.
func TestPlatformDirs(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 program")
	}
	crane := tool(t, "crane")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "main.go"), []byte(hello), 0o644)
	os.WriteFile(filepath.Join(work, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
	for _, arch := range []string{"amd64", "arm64"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(work, "dist", arch, "hello"), ".")
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build for %s: %v\n%s", arch, err, out)
		}
	}
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"), "SOURCE_DATE_EPOCH=1700000000"}
	repo := reg.Host + "/tools/hello"
	args := []string{"build", "--platform-dir", "linux/amd64=dist/amd64", "--platform-dir", "linux/arm64=dist/arm64", "--git=false"}
	b := runEnv(t, work, env, "", bin, append(args, "-t", repo+":v1", "--push")...)
	if b.code != 0 || !strings.HasPrefix(b.stdout, repo+"@sha256:") {
		t.Fatalf("build --platform-dir --push: exit %d, stdout %q: %s", b.code, b.stdout, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)
	digest := ref[strings.Index(ref, "@")+1:]

	// The same directories again, into a local layout: the same digest.
	again := runEnv(t, work, env, "", bin, append(args, "--output", "oci:"+filepath.Join(work, "layout"))...)
	if again.code != 0 || !strings.HasSuffix(strings.TrimSpace(again.stdout), "@"+digest) {
		t.Errorf("second build: exit %d, stdout %q, want digest %s: %s", again.code, again.stdout, digest, again.stderr)
	}

	var index struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(run(t, work, crane, "manifest", "--insecure", ref)), &index); err != nil {
		t.Fatal(err)
	}
	if index.MediaType != "application/vnd.oci.image.index.v1+json" || len(index.Manifests) != 2 {
		t.Fatalf("index = %+v", index)
	}
	layers := map[string]bool{}
	for i, arch := range []string{"amd64", "arm64"} {
		m := index.Manifests[i]
		if m.Platform.OS != "linux" || m.Platform.Architecture != arch {
			t.Errorf("manifest %d is for %+v, want linux/%s", i, m.Platform, arch)
		}
		var cfg struct{ OS, Architecture string }
		json.Unmarshal([]byte(run(t, work, crane, "config", "--insecure", repo+"@"+m.Digest)), &cfg)
		if cfg.OS != "linux" || cfg.Architecture != arch {
			t.Errorf("config of %s says %+v", arch, cfg)
		}
		var man struct{ Layers []struct{ Digest string } }
		json.Unmarshal([]byte(run(t, work, crane, "manifest", "--insecure", repo+"@"+m.Digest)), &man)
		for _, l := range man.Layers {
			layers[l.Digest] = true
		}
	}
	if len(layers) != 2 {
		t.Errorf("the platforms share layers: %v", layers)
	}

	// crane export: the amd64 tree, then run the program from it.
	exported := filepath.Join(work, "exported")
	os.Mkdir(exported, 0o755)
	if r := runEnv(t, work, nil, "", "bash", "-c", `"$0" export --insecure --platform linux/amd64 "$1" - | tar -x -C "$2"`, crane, ref, exported); r.code != 0 {
		t.Fatalf("crane export: %s", r.stderr)
	}
	if out := run(t, work, filepath.Join(exported, "hello")); out != "hello from linux/amd64\n" {
		t.Errorf("exported program printed %q", out)
	}
	// assetpack pull, as the README's install section shows.
	if p := runEnv(t, work, env, "", bin, "pull", ref, "pulled", "--platform", "linux/amd64", "-q"); p.code != 0 {
		t.Fatalf("pull: exit %d: %s", p.code, p.stderr)
	}
	if out := run(t, work, filepath.Join(work, "pulled", "hello")); out != "hello from linux/amd64\n" {
		t.Errorf("pulled program printed %q", out)
	}
	if p := runEnv(t, work, env, "", bin, "pull", ref, "pulled-arm", "--platform", "linux/arm64", "-q"); p.code != 0 {
		t.Fatalf("pull arm64: exit %d: %s", p.code, p.stderr)
	}
	if arm, _ := os.ReadFile(filepath.Join(work, "pulled-arm", "hello")); len(arm) < 20 || string(arm[:4]) != "\x7fELF" || arm[18] != 0xb7 {
		t.Errorf("the arm64 manifest does not hold an arm64 ELF program (%d bytes)", len(arm))
	}
}
