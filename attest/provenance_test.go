package attest_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
)

// gitTree makes a repository with siteTree under site/, one commit and an
// origin remote, and returns the site directory and the commit.
func gitTree(t *testing.T, remote string) (string, string) {
	t.Helper()
	repoDir := t.TempDir()
	writeTree(t, filepath.Join(repoDir, "site"), siteTree)
	repo, err := git.PlainInit(repoDir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("site"); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hash, err := wt.Commit("add site", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: when}})
	if err != nil {
		t.Fatal(err)
	}
	if remote != "" {
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{remote}}); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(repoDir, "site"), hash.String()
}

func TestProvenance(t *testing.T) {
	site, commit := gitTree(t, "https://token:s3cret@git.example.com/acme/site.git")
	// The default options read git: the commit time and the source annotations.
	res, err := builder.Build(context.Background(), site, builder.WithPrefix("site"), builder.WithExcludes("*.tmp"))
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	img, err := attest.ReadImage(res.Image)
	if err != nil {
		t.Fatalf("ReadImage() = %v", err)
	}
	b := attest.Build{
		Source: site, Prefix: "site", Platforms: res.Platforms,
		Compression: "auto", Layers: "auto", Symlinks: "preserve", Excludes: []string{"*.tmp"}, Git: true,
		Annotations: map[string]string{"team": "web"},
	}
	p, err := attest.Provenance(img, b, attest.WithVersion("v1.4.0"))
	if err != nil {
		t.Fatalf("Provenance() = %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	def := p.GetBuildDefinition()
	if def.GetBuildType() != "https://assetpack.dev/build/v1" {
		t.Errorf("buildType = %q", def.GetBuildType())
	}
	ext := def.GetExternalParameters().AsMap()
	for k, want := range map[string]any{
		"source": site, "prefix": "site", "platforms": []any{"linux/amd64"}, "compression": "auto", "layers": "auto",
		"symlinks": "preserve", "excludes": []any{"*.tmp"}, "git": true, "annotations": map[string]any{"team": "web"},
	} {
		if got := ext[k]; !equalJSON(got, want) {
			t.Errorf("externalParameters[%s] = %v, want %v", k, got, want)
		}
	}
	if _, ok := ext["sourceDateEpoch"]; ok {
		t.Errorf("externalParameters has a sourceDateEpoch, but none was given: %v", ext)
	}
	if got := def.GetInternalParameters().AsMap()["created"]; got != "2026-03-01T12:00:00Z" {
		t.Errorf("internalParameters.created = %v, want the commit time", got)
	}
	deps := def.GetResolvedDependencies()
	if len(deps) != 1 || deps[0].GetUri() != "git+https://git.example.com/acme/site.git" || deps[0].GetDigest()["gitCommit"] != commit {
		t.Errorf("resolvedDependencies = %v, want the remote (without credentials) at %s", deps, commit)
	}
	run := p.GetRunDetails()
	if run.GetBuilder().GetId() != "https://assetpack.dev/assetpack@v1.4.0" {
		t.Errorf("builder.id = %q", run.GetBuilder().GetId())
	}
	if run.GetMetadata() != nil {
		t.Errorf("metadata = %v, want none (no invocation ID, no times)", run.GetMetadata())
	}
	if len(run.GetByproducts()) != len(res.Layers) {
		t.Fatalf("%d byproducts, want one per layer (%d)", len(run.GetByproducts()), len(res.Layers))
	}
	for i, bp := range run.GetByproducts() {
		l := res.Layers[i]
		d, _ := l.Digest()
		diffID, _ := l.DiffID()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		ann := bp.GetAnnotations().AsMap()
		if bp.GetDigest()["sha256"] != d.Hex || bp.GetMediaType() != string(mt) || ann["size"] != float64(size) || ann["diffID"] != diffID.String() {
			t.Errorf("byproduct %d = %v, want layer %s (%s, %d bytes, diffID %s)", i, bp, d, mt, size, diffID)
		}
	}

	// Through a statement and back, with the in-toto types.
	out, err := attest.Statement("registry.example/acme/site", res.Digest, attest.ProvenancePredicateType, p)
	if err != nil {
		t.Fatalf("Statement() = %v", err)
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(out, &st); err != nil {
		t.Fatalf("parsing the statement: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Errorf("statement Validate() = %v", err)
	}
	pj, _ := protojson.Marshal(st.GetPredicate())
	var back slsa.Provenance
	if err := protojson.Unmarshal(pj, &back); err != nil {
		t.Fatalf("parsing the predicate as SLSA provenance v1: %v", err)
	}
	if err := back.Validate(); err != nil || !proto.Equal(&back, p) {
		t.Errorf("predicate after a round trip: Validate() = %v, equal = %v", err, proto.Equal(&back, p))
	}
	if strings.Contains(string(out), "s3cret") {
		t.Errorf("credentials leaked into the statement: %s", out)
	}
}

func TestProvenanceWithoutGit(t *testing.T) {
	site, _ := gitTree(t, "")
	res := build(t, site) // WithGit(false), a SOURCE_DATE_EPOCH
	img, err := attest.ReadImage(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(epoch, 0)
	p, err := attest.Provenance(img, attest.Build{Source: "site", SourceDateEpoch: &when})
	if err != nil {
		t.Fatalf("Provenance() = %v", err)
	}
	if deps := p.GetBuildDefinition().GetResolvedDependencies(); len(deps) != 0 {
		t.Errorf("resolvedDependencies = %v, want none without git", deps)
	}
	ext := p.GetBuildDefinition().GetExternalParameters().AsMap()
	if ext["sourceDateEpoch"] != float64(epoch) || ext["git"] != false || p.GetRunDetails().GetBuilder().GetId() != "https://assetpack.dev/assetpack@devel" {
		t.Errorf("externalParameters = %v, builder %v", ext, p.GetRunDetails().GetBuilder())
	}
	if got := p.GetBuildDefinition().GetInternalParameters().AsMap()["created"]; got != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %v", got)
	}
}

func TestProvenanceSources(t *testing.T) {
	commit := strings.Repeat("ab", 20)
	tests := []struct {
		name     string
		ann      map[string]string
		uri      string
		digest   string
		revision string
	}{
		{"https", map[string]string{"org.opencontainers.image.source": "https://github.com/acme/site", "org.opencontainers.image.revision": commit}, "git+https://github.com/acme/site", commit, ""},
		{"scp-like", map[string]string{"org.opencontainers.image.source": "git@github.com:acme/site.git", "org.opencontainers.image.revision": commit}, "git+ssh://git@github.com/acme/site.git", commit, ""},
		{"no remote", map[string]string{"org.opencontainers.image.revision": commit}, "", commit, ""},
		{"not a commit ID", map[string]string{"org.opencontainers.image.source": "https://github.com/acme/site", "org.opencontainers.image.revision": "v1.2"}, "git+https://github.com/acme/site", "", "v1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := &attest.Image{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, Annotations: tt.ann}
			p, err := attest.Provenance(img, attest.Build{Source: "."})
			if err != nil {
				t.Fatalf("Provenance() = %v", err)
			}
			deps := p.GetBuildDefinition().GetResolvedDependencies()
			if len(deps) != 1 || deps[0].GetUri() != tt.uri || deps[0].GetDigest()["gitCommit"] != tt.digest ||
				(tt.revision != "" && deps[0].GetAnnotations().AsMap()["revision"] != tt.revision) {
				t.Errorf("resolvedDependencies = %v, want uri %q, gitCommit %q", deps, tt.uri, tt.digest)
			}
		})
	}
}

func TestProvenanceInvalid(t *testing.T) {
	img := &attest.Image{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}
	if _, err := attest.Provenance(img, attest.Build{}); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("Provenance() without a source = %v, want ErrInvalid", err)
	}
	if _, err := attest.Provenance(img, attest.Build{Source: "."}, attest.WithVersion("1.0 beta")); !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), `"1.0 beta"`) {
		t.Errorf("Provenance() with a bad version = %v, want ErrInvalid naming it", err)
	}
	bad := *img
	bad.Layers = []attest.Layer{{Digest: v1.Hash{Algorithm: "sha512", Hex: "00"}}}
	if _, err := attest.Provenance(&bad, attest.Build{Source: "."}); !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), "layer 1 digest") {
		t.Errorf("Provenance() with a bad layer digest = %v, want ErrInvalid naming the layer", err)
	}
}
