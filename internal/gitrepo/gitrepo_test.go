package gitrepo_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/assetpack/assetpack/internal/gitrepo"
)

// answer is everything a build reads from a repository.
type answer struct {
	found  bool
	hash   string
	branch string
	when   time.Time
	tags   []string
	origin string
}

// ours reads dir with this package.
func ours(t *testing.T, dir string) answer {
	t.Helper()
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	if r == nil {
		return answer{}
	}
	h, ok, err := r.Head()
	if err != nil || !ok {
		if err != nil {
			t.Fatalf("Head() = %v", err)
		}
		return answer{}
	}
	a := answer{found: true, hash: h.Hash.String(), branch: h.Branch}
	if a.when, err = r.CommitTime(h.Hash); err != nil {
		t.Fatalf("CommitTime() = %v", err)
	}
	if a.tags, err = r.TagsAt(h.Hash); err != nil {
		t.Fatalf("TagsAt() = %v", err)
	}
	a.origin, _ = r.RemoteURL("origin")
	return a
}

// goGit reads dir with go-git's top-level package, as the builder did before
// this package: the oracle every case is compared with.
func goGit(t *testing.T, dir string) answer {
	t.Helper()
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err == git.ErrRepositoryNotExists {
		return answer{}
	}
	if err != nil {
		t.Fatalf("go-git: PlainOpen(%s) = %v", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		return answer{}
	}
	a := answer{found: true, hash: head.Hash().String()}
	if head.Name().IsBranch() {
		a.branch = head.Name().Short()
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatalf("go-git: CommitObject = %v", err)
	}
	a.when = c.Committer.When.UTC()
	tags, _ := repo.Tags()
	tags.ForEach(func(r *plumbing.Reference) error {
		h := r.Hash()
		for { // peel tags of tags, as git does
			tag, err := repo.TagObject(h)
			if err != nil {
				break
			}
			h = tag.Target
		}
		if h == head.Hash() {
			a.tags = append(a.tags, r.Name().Short())
		}
		return nil
	})
	sort.Strings(a.tags)
	if rem, err := repo.Remote("origin"); err == nil {
		a.origin = rem.Config().URLs[0]
	}
	return a
}

func same(t *testing.T, dir string, want answer) {
	t.Helper()
	got, oracle := ours(t, dir), goGit(t, dir)
	eq := func(a, b answer) bool {
		return a.found == b.found && a.hash == b.hash && a.branch == b.branch && a.when.Equal(b.when) &&
			strings.Join(a.tags, ",") == strings.Join(b.tags, ",") && a.origin == b.origin
	}
	if !eq(got, oracle) {
		t.Errorf("%s:\n gitrepo %+v\n  go-git %+v", dir, got, oracle)
	}
	if !eq(got, want) {
		t.Errorf("%s:\n gitrepo %+v\n    want %+v", dir, got, want)
	}
}

func commit(t *testing.T, repo *git.Repository, file string, when time.Time) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(wt.Filesystem.Root(), file)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(file+when.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(file); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "A <weird> name", Email: "a@example.com", When: when}
	h, err := wt.Commit("change "+file+"\n\ncommitter fake-line 1 +0000\n", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func runGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestOpenMatchesGoGit(t *testing.T) {
	root := t.TempDir()
	repo, err := git.PlainInit(root, false)
	if err != nil {
		t.Fatal(err)
	}

	// A directory outside any repository, and a repository without commits.
	same(t, t.TempDir(), answer{})
	same(t, root, answer{})

	first := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	h1 := commit(t, repo, "site/index.html", first)
	second := time.Date(2026, 4, 2, 23, 30, 0, 0, time.FixedZone("", -7*3600))
	h2 := commit(t, repo, "site/deep/er/page.html", second)
	repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{"https://git.example.com/acme/site.git", "https://mirror.example.com/site.git"}})
	repo.CreateRemote(&gitconfig.RemoteConfig{Name: "upstream", URLs: []string{"https://other.example.com/x.git"}})

	// Tags: lightweight and annotated on HEAD, a tag of a tag, one on the
	// first commit.
	if _, err := repo.CreateTag("v1.0.0", h2, nil); err != nil {
		t.Fatal(err)
	}
	ann, err := repo.CreateTag("v1.1.0", h2, &git.CreateTagOptions{Message: "release\n", Tagger: &object.Signature{Name: "t", Email: "t@x", When: second}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTag("v1.1.0-signed-off", ann.Hash(), &git.CreateTagOptions{Message: "tag of a tag\n", Tagger: &object.Signature{Name: "t", Email: "t@x", When: second}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTag("v0.9.0", h1, &git.CreateTagOptions{Message: "old\n", Tagger: &object.Signature{Name: "t", Email: "t@x", When: first}}); err != nil {
		t.Fatal(err)
	}
	want := answer{found: true, hash: h2.String(), branch: "master", when: second.UTC(),
		tags: []string{"v1.0.0", "v1.1.0", "v1.1.0-signed-off"}, origin: "https://git.example.com/acme/site.git"}

	// From the top, a subdirectory, a file, and a directory that does not
	// exist (yet) inside the work tree.
	same(t, root, want)
	same(t, filepath.Join(root, "site", "deep", "er"), want)
	same(t, filepath.Join(root, "site", "index.html"), want)
	same(t, filepath.Join(root, "site", "not-there"), want)

	// A detached HEAD has no branch.
	wt, _ := repo.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Hash: h1}); err != nil {
		t.Fatal(err)
	}
	same(t, root, answer{found: true, hash: h1.String(), when: first.UTC(), tags: []string{"v0.9.0"}, origin: want.origin})
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("master")}); err != nil {
		t.Fatal(err)
	}
	same(t, root, want)

	// Packed refs and packed objects (git gc), as any long-lived clone has.
	runGit(t, root, "gc", "--quiet", "--prune=now")
	if _, err := os.Stat(filepath.Join(root, ".git", "packed-refs")); err != nil {
		t.Fatalf("git gc wrote no packed-refs: %v", err)
	}
	same(t, root, want)

	// A linked work tree: its .git is a file naming a git directory whose
	// commondir holds the objects, the tags and the config.
	linked := filepath.Join(t.TempDir(), "linked")
	runGit(t, root, "worktree", "add", "--quiet", "-b", "feature/x", linked, h1.String())
	if fi, err := os.Stat(filepath.Join(linked, ".git")); err != nil || fi.IsDir() {
		t.Fatalf("git worktree add: .git is not a file (%v)", err)
	}
	same(t, filepath.Join(linked, "site"), answer{found: true, hash: h1.String(), branch: "feature/x", when: first.UTC(), tags: []string{"v0.9.0"}, origin: want.origin})

	// A tag naming an object the clone does not have hides no other tag.
	if err := os.WriteFile(filepath.Join(root, ".git", "refs", "tags", "v-missing"), []byte(strings.Repeat("ab", 20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	same(t, root, want)
}

// TestOpenGitFile covers a .git file with a relative gitdir (as a submodule
// has) and one that is not a gitdir file.
func TestOpenGitFile(t *testing.T) {
	base := t.TempDir()
	store := filepath.Join(base, "modules", "site")
	repo, err := git.PlainInitWithOptions(filepath.Join(base, "work"), &git.PlainInitOptions{Bare: false})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
	h := commit(t, repo, "a.txt", when)
	// Move the git directory away and leave a relative .git file behind.
	os.MkdirAll(filepath.Dir(store), 0o755)
	if err := os.Rename(filepath.Join(base, "work", ".git"), store); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "work", ".git"), []byte("gitdir: ../modules/site\n"), 0o644)
	same(t, filepath.Join(base, "work"), answer{found: true, hash: h.String(), branch: "master", when: when})

	os.WriteFile(filepath.Join(base, "work", ".git"), []byte("not a gitdir line\n"), 0o644)
	_, err = gitrepo.Open(filepath.Join(base, "work"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(base, "work", ".git")) || !strings.Contains(err.Error(), "gitdir: ") {
		t.Errorf("Open with a bad .git file = %v, want an error naming the file and the gitdir line", err)
	}
}

// TestOpenRefusesWhatItWouldMisread: a repository whose refs or objects this
// package cannot read is an error naming the setting, never a silent "no
// repository" (which would build with another timestamp).
func TestOpenRefusesWhatItWouldMisread(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n", "extensions.objectformat = sha256"},
		{"[core]\n\trepositoryformatversion = 1\n[extensions]\n\trefStorage = reftable\n", "extensions.refStorage = reftable"},
		{"[core]\n\trepositoryformatversion = 1\n[extensions]\n\tsomethingNew = true\n", "extensions.somethingNew = true"},
		{"[core]\n\trepositoryformatversion = 2\n", `repositoryformatversion "2"`},
	} {
		root := t.TempDir()
		repo, err := git.PlainInit(root, false)
		if err != nil {
			t.Fatal(err)
		}
		commit(t, repo, "a", time.Unix(1e9, 0))
		if err := os.WriteFile(filepath.Join(root, ".git", "config"), []byte(tc.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = gitrepo.Open(filepath.Join(root, "sub"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(root, ".git")) {
			t.Errorf("config %q: Open = %v, want an error naming %q and the git directory", tc.cfg, err, tc.want)
		}
	}

	// Extensions that change nothing this package reads are fine.
	root := t.TempDir()
	repo, _ := git.PlainInit(root, false)
	h := commit(t, repo, "a", time.Unix(1e9, 0))
	os.WriteFile(filepath.Join(root, ".git", "config"), []byte("[core]\n\trepositoryformatversion = 1\n[extensions]\n\tworktreeConfig = true\n\tobjectFormat = sha1\n"), 0o644)
	if a := ours(t, root); !a.found || a.hash != h.String() {
		t.Errorf("worktreeConfig and objectFormat sha1: %+v, want HEAD %s", a, h)
	}
}
