package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/assetpack/assetpack/builder"
)

func TestGitMetadata(t *testing.T) {
	repoDir := t.TempDir()
	writeTree(t, repoDir, []treeFile{{path: "site/index.html", body: "hi"}})
	repo, err := git.PlainInit(repoDir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	wt.Add("site/index.html")
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	hash, err := wt.Commit("add site", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: when}})
	if err != nil {
		t.Fatal(err)
	}
	repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"https://user:s3cr3t-token@git.example.com/acme/site.git?x=token"}})

	site := filepath.Join(repoDir, "site")
	res, err := builder.Build(context.Background(), site)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	if !res.Created.Equal(when) || res.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want the commit time %v in UTC", res.Created, when)
	}
	if got := res.Annotations[builder.AnnotationRevision]; got != hash.String() {
		t.Errorf("revision = %q, want %q", got, hash)
	}
	if got := res.Annotations[builder.AnnotationSource]; got != "https://git.example.com/acme/site.git" {
		t.Errorf("source = %q, want the remote without credentials", got)
	}
	if got := res.Annotations[builder.AnnotationCreated]; got != "2026-03-01T11:00:00Z" {
		t.Errorf("created annotation = %q", got)
	}
	raw, _ := res.Image.RawManifest()
	cfg, _ := res.Image.RawConfigFile()
	for _, b := range [][]byte{raw, cfg} {
		if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "user:") {
			t.Errorf("credentials leaked into %s", b)
		}
	}

	// An explicit epoch wins over git; WithGit(false) drops the annotations.
	res2, err := builder.Build(context.Background(), site, builder.WithSourceDateEpoch(time.Unix(5, 0)), builder.WithGit(false))
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Close()
	if res2.Created.Unix() != 5 || res2.Annotations[builder.AnnotationRevision] != "" {
		t.Errorf("WithSourceDateEpoch+WithGit(false): created %v, annotations %v", res2.Created, res2.Annotations)
	}

	// Outside any repository the default timestamp is 1970.
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "a"), []byte("a"), 0o644)
	res3, err := builder.Build(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	defer res3.Close()
	if res3.Created.Unix() != 0 {
		t.Errorf("outside git: Created = %v, want 1970-01-01", res3.Created)
	}
}
