package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/assetpack/assetpack/internal/testregistry"
)

func TestConfigFile(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))

	if r := assetpack(t, work, nil, "config", "init"); r.code != 0 {
		t.Fatalf("config init: %d %s", r.code, r.stderr)
	}
	if r := assetpack(t, work, nil, "config", "validate"); r.code != 0 || !strings.Contains(r.stderr, "is valid") {
		t.Errorf("config validate of the starter: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(work, "platforms.yaml"), []byte("source: ./site\nplatforms: [linux/aarch64, linux/amd65]\n"), 0o644)
	if r := assetpack(t, work, nil, "config", "validate", "platforms.yaml"); r.code != 2 ||
		!strings.Contains(r.stderr, `platforms.yaml: platforms: platform "linux/amd65": unknown architecture "amd65" for linux (did you mean amd64?)`) {
		t.Errorf("config validate of an unknown platform: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(work, "dirs.yaml"), []byte("platformDirs:\n  - {platform: linux/aarch64, source: ./site}\n  - {platform: linux/amd65, source: ./site}\n"), 0o644)
	if r := assetpack(t, work, nil, "config", "validate", "dirs.yaml"); r.code != 2 ||
		!strings.Contains(r.stderr, `dirs.yaml: platformDirs: platform "linux/amd65": unknown architecture "amd65"`) {
		t.Errorf("config validate of an unknown platform in platformDirs: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(work, "dirs.yaml"), []byte("platformDirs:\n  - {platform: linux/aarch64, source: ./site}\n"), 0o644)
	if r := assetpack(t, work, nil, "config", "validate", "dirs.yaml"); r.code != 0 || !strings.Contains(r.stderr, "arm64") || !strings.Contains(r.stderr, "is valid") {
		t.Errorf("config validate of platformDirs with an alias: %d %s", r.code, r.stderr)
	}
	if r := assetpack(t, work, nil, "config", "init"); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("config init over a file: %d %s", r.code, r.stderr)
	}
	// A repository with one commit: {{.ShortCommit}} comes from git.
	repo, _ := git.PlainInit(work, false)
	wt, _ := repo.Worktree()
	wt.Add("site")
	hash, err := wt.Commit("site", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := `source: ./site
prefix: site
repository: ` + host + `/web/site
tags: ["{{.ShortCommit}}", latest]
push: true
compression: zstd
layers: single
annotations: {org.opencontainers.image.description: "from config"}
kubernetes:
  workload: deployment/web
  containers: [nginx]
  mountPath: /usr/share/nginx/html
  output: k8s/patch.yaml
`
	os.WriteFile(filepath.Join(work, "assetpack.yaml"), []byte(cfg), 0o644)
	r := assetpack(t, work, nil, "build", "--json")
	if r.code != 0 {
		t.Fatalf("build from the config: %d %s", r.code, r.stderr)
	}
	var j struct {
		Reference, Prefix string
		Annotations       map[string]string
		Push              struct{ Tags []string }
		Layers            []struct{ MediaType string }
	}
	json.Unmarshal([]byte(r.stdout), &j)
	short := hash.String()[:12]
	if !strings.HasPrefix(j.Reference, host+"/web/site@sha256:") || j.Prefix != "/site" || j.Annotations["org.opencontainers.image.description"] != "from config" ||
		strings.Join(j.Push.Tags, ",") != host+"/web/site:"+short+","+host+"/web/site:latest" {
		t.Errorf("build from config: %s", r.stdout)
	}
	if len(j.Layers) != 1 || j.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("compression and layers from config: %+v", j.Layers)
	}
	if b, err := os.ReadFile(filepath.Join(work, "k8s", "patch.yaml")); err != nil || !strings.Contains(string(b), "subPath: site") {
		t.Errorf("kubernetes output: %v %s", err, b)
	}
	// Flags override keys.
	o := assetpack(t, work, nil, "build", "--prefix", "/", "--push=false", "-o", "oci:local", "--json", "--patch-out", "", "--kustomize", "")
	if o.code != 0 || !strings.Contains(o.stdout, `"prefix": "/"`) || strings.Contains(o.stdout, `"push"`) {
		t.Errorf("flags over config: %d %s %s", o.code, o.stdout, o.stderr)
	}

	// A malformed config names the key and the line.
	os.WriteFile(filepath.Join(work, "bad.yaml"), []byte("source: ./site\ncompresion: zstd\n"), 0o644)
	bad := assetpack(t, work, nil, "build", "--config", "bad.yaml")
	if bad.code != 2 || !strings.Contains(bad.stderr, "bad.yaml:2:") || !strings.Contains(bad.stderr, "compresion") {
		t.Errorf("malformed config: %d %s", bad.code, bad.stderr)
	}
	empty := t.TempDir()
	if r := assetpack(t, empty, nil, "build"); r.code != 2 || !strings.Contains(r.stderr, "config init") {
		t.Errorf("build without DIR or config: %d %s", r.code, r.stderr)
	}
	if r := assetpack(t, work, nil, "config", "schema"); r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Errorf("config schema: %d", r.code)
	}
}
