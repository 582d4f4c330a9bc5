//go:build e2e

package e2e

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullFromRegistry pulls, with the real binary, what `assetpack build
// --push` pushed to Debian's docker-registry, and compares it with the
// source tree and with what umoci unpacks from the same digest: a tree
// split into several layers by --layers auto (one of them a 33 MiB file
// stored uncompressed), an index (by --platform), the same tree as a tar
// (extracted by GNU tar), and only the --prefix directory (--sub-path).
func TestPullFromRegistry(t *testing.T) {
	skopeo, umoci, tarBin := tool(t, "skopeo"), tool(t, "umoci"), tool(t, "tar")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "model")
	makeSource(t, src)
	big := make([]byte, 33<<20)
	rand.New(rand.NewSource(7)).Read(big)
	if err := os.WriteFile(filepath.Join(src, "weights.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	want := normalised(snapshot(t, src))
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	repo := reg.Host + "/assets/model"

	b := buildOut(t, work, env, src, "--git=false", "-t", repo+":v1", "--push", "--json")
	if len(b.Layers) < 2 {
		t.Fatalf("the build made %d layer(s), want a split", len(b.Layers))
	}
	p := runEnv(t, work, env, "", bin, "pull", repo+":v1", "pulled")
	if p.code != 0 || p.stdout != repo+"@"+b.Digest+"\n" {
		t.Fatalf("pull: exit %d, stdout %q, stderr %s", p.code, p.stdout, p.stderr)
	}
	compareTrees(t, snapshot(t, filepath.Join(work, "pulled")), want)

	// umoci unpacks the same digest (copied to a layout by skopeo) to the same tree.
	run(t, work, skopeo, "copy", "--src-tls-verify=false", "docker://"+repo+"@"+b.Digest, "oci:copy:v1")
	run(t, work, umoci, "unpack", "--rootless", "--image", "copy:v1", "bundle")
	compareTrees(t, snapshot(t, filepath.Join(work, "pulled")), snapshot(t, filepath.Join(work, "bundle", "rootfs")))

	// The same tree as one tar, which GNU tar extracts to the same files.
	tp := runEnv(t, work, env, "", bin, "pull", repo+"@"+b.Digest, "--output", "tar:model.tar", "-q")
	if tp.code != 0 || tp.stderr != "" {
		t.Fatalf("pull --output tar: exit %d: %s", tp.code, tp.stderr)
	}
	os.Mkdir(filepath.Join(work, "from-tar"), 0o755)
	run(t, work, tarBin, "-xf", "model.tar", "-C", "from-tar")
	compareTrees(t, snapshot(t, filepath.Join(work, "from-tar")), want)

	// Pulled again over itself: refused without --force, replaced with it.
	if again := runEnv(t, work, env, "", bin, "pull", repo+":v1", "pulled"); again.code != 2 || !strings.Contains(again.stderr, "--force") {
		t.Errorf("pull over a full directory: exit %d: %s", again.code, again.stderr)
	}
	if again := runEnv(t, work, env, "", bin, "pull", repo+":v1", "pulled", "--force", "-q"); again.code != 0 {
		t.Errorf("pull --force: exit %d: %s", again.code, again.stderr)
	}
	compareTrees(t, snapshot(t, filepath.Join(work, "pulled")), want)

	// An index, by platform; and a prefixed image, by sub path.
	site := filepath.Join(work, "site")
	makeSource(t, site)
	siteWant := normalised(snapshot(t, site))
	idx := runEnv(t, work, env, "", bin, "build", site, "--git=false", "--platform", "linux/amd64,linux/arm64", "--prefix", "srv/site", "-t", reg.Host+"/assets/site:v1", "--push")
	if idx.code != 0 {
		t.Fatalf("build --platform: %s", idx.stderr)
	}
	arm := runEnv(t, work, env, "", bin, "pull", reg.Host+"/assets/site:v1", "arm", "--platform", "linux/arm64", "--sub-path", "srv/site")
	if arm.code != 0 || !strings.Contains(arm.stderr, "picked the linux/arm64 image") || arm.stdout != idx.stdout {
		t.Fatalf("pull --platform --sub-path: exit %d, stdout %q (want %q): %s", arm.code, arm.stdout, idx.stdout, arm.stderr)
	}
	compareTrees(t, snapshot(t, filepath.Join(work, "arm")), siteWant)
	none := runEnv(t, work, env, "", bin, "pull", reg.Host+"/assets/site:v1", "s390x", "--platform", "linux/s390x")
	if none.code != 2 || !strings.Contains(none.stderr, "it has linux/amd64, linux/arm64") {
		t.Errorf("pull of a platform the index lacks: exit %d: %s", none.code, none.stderr)
	}
	missing := runEnv(t, work, env, "", bin, "pull", reg.Host+"/assets/site:v2", "v2")
	if missing.code != 1 || !strings.Contains(missing.stderr, reg.Host+"/assets/site:v2") {
		t.Errorf("pull of a missing tag: exit %d: %s", missing.code, missing.stderr)
	}
	for _, d := range []string{"s390x", "v2"} {
		if _, err := os.Lstat(filepath.Join(work, d)); err == nil {
			t.Errorf("a failed pull left %s", d)
		}
	}
}
