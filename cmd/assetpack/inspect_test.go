package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
)

func TestInspectAndDiff(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	assetpack(t, work, env, "generate-key-pair")
	b := assetpack(t, work, env, "build", "site", "--git=false", "--prefix", "site", "-t", host+"/web/site:v1", "--push", "--sign", "--key", "cosign.key", "-o", "oci:layout")
	if b.code != 0 {
		t.Fatal(b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)

	// inspect a registry image: signature attached, files listed.
	r := assetpack(t, work, nil, "inspect", host+"/web/site:v1", "--json")
	var rep struct {
		Digest    string
		Signed    *bool
		Attested  *bool
		Referrers []struct{ ArtifactType, Digest, Found, PredicateType string }
		Manifests []struct {
			Platform string
			Layers   []struct{ Digest, DiffID string }
		}
		Files struct {
			FileCount int
			Files     []struct{ Path, Type, Mode, SHA256 string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("inspect --json: %d %v %s", r.code, err, r.stderr)
	}
	if !strings.HasSuffix(ref, rep.Digest) || rep.Signed == nil || !*rep.Signed || *rep.Attested || rep.Files.FileCount != 5 ||
		rep.Manifests[0].Platform != "linux/amd64" || rep.Manifests[0].Layers[0].DiffID == "" {
		t.Errorf("inspect = %s", r.stdout)
	}
	// The signature is a bundle referrer in the tag schema (this registry
	// has no referrers API).
	if len(rep.Referrers) != 1 || rep.Referrers[0].ArtifactType != "application/vnd.dev.sigstore.bundle.v0.3+json" ||
		rep.Referrers[0].Found != "tag schema" || rep.Referrers[0].PredicateType != "https://sigstore.dev/cosign/sign/v1" || !strings.HasPrefix(rep.Referrers[0].Digest, "sha256:") {
		t.Errorf("referrers = %+v", rep.Referrers)
	}
	if text := assetpack(t, work, nil, "inspect", ref, "--no-files"); !strings.Contains(text.stdout, "referrers:\n  application/vnd.dev.sigstore.bundle.v0.3+json\n    sha256:") {
		t.Errorf("inspect text: %s", text.stdout)
	}
	text := assetpack(t, work, nil, "inspect", "oci:layout")
	if text.code != 0 || !strings.Contains(text.stdout, "site/bin/healthcheck.sh") || !strings.Contains(text.stdout, "-0755") || !strings.Contains(text.stdout, "site/docs/home.html -> ../index.html") {
		t.Errorf("inspect text: %s", text.stdout)
	}

	// diff: the checkout against the pushed image.
	same := assetpack(t, work, nil, "diff", "site", ref, "--prefix", "site")
	if same.code != 0 || same.stdout != "" || !strings.Contains(same.stderr, "identical") {
		t.Errorf("diff of the same content: %d %q %s", same.code, same.stdout, same.stderr)
	}
	if id := assetpack(t, work, nil, "diff", "oci:layout", ref); id.code != 0 || !strings.Contains(id.stderr, "identical: same digest") {
		t.Errorf("diff of the same image: %d %s", id.code, id.stderr)
	}
	// Without --prefix every file differs: diff says which prefix would do.
	for _, args := range [][]string{{"diff", "site", ref}, {"diff", ref, "site"}} {
		hint := "hint: every file of site is under site/ in " + ref + ": pass --prefix site to pack site as " + ref + " is\n"
		if p := assetpack(t, work, nil, args...); p.code != 1 || !strings.HasSuffix(p.stderr, hint) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", args, p.code, p.stderr, hint)
		}
	}
	os.WriteFile(filepath.Join(work, "site", "index.html"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(work, "site", "new.txt"), []byte("new"), 0o644)
	os.Remove(filepath.Join(work, "site", "css", "site.css"))
	os.Chmod(filepath.Join(work, "site", "js", "app.js"), 0o755)
	d := assetpack(t, work, nil, "diff", ref, "site", "--prefix", "site")
	want := "- site/css/site.css\n~ site/index.html (content)\n~ site/js/app.js (mode)\n+ site/new.txt\n"
	if d.code != 1 || d.stdout != want {
		t.Errorf("diff: exit %d\n%s\nwant\n%s", d.code, d.stdout, want)
	}
	if e := assetpack(t, work, nil, "diff", "site", "nope:::"); e.code != 2 {
		t.Errorf("diff with a bad reference: exit %d %s", e.code, e.stderr)
	}
}
