package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/internal/testsigstore"
)

// tree maps every path below root to "mode sha256-or-target", with modes
// as the builder normalises them when normalise is set.
func tree(t *testing.T, root string, normalise bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		mode, data := fi.Mode(), ""
		switch {
		case mode&fs.ModeSymlink != 0:
			data, _ = os.Readlink(p)
		case mode.IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			data = hex.EncodeToString(sum[:])
			if normalise && mode&0o111 != 0 {
				mode = 0o755
			} else if normalise {
				mode = 0o644
			}
		case mode.IsDir() && normalise:
			mode = fs.ModeDir | 0o755
		}
		out[filepath.ToSlash(rel)] = mode.String() + " " + data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q, want %q", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("extra: %s", p)
		}
	}
}

// TestPullRoundTrip: what build --push pushed comes back as the source
// tree, by tag, by digest, from a layout, as a tar, and under a sub path.
func TestPullRoundTrip(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	want := tree(t, filepath.Join(work, "site"), true)
	b := assetpack(t, work, nil, "build", "site", "--git=false", "-t", host+"/web/site:v1", "--push", "-o", "oci:layout")
	if b.code != 0 {
		t.Fatalf("build --push: %d %s", b.code, b.stderr)
	}
	ref := strings.TrimSpace(b.stdout)

	r := assetpack(t, work, nil, "pull", host+"/web/site:v1", "by-tag")
	if r.code != 0 || r.stdout != ref+"\n" {
		t.Fatalf("pull by tag: exit %d, stdout %q (want %q), stderr %s", r.code, r.stdout, ref, r.stderr)
	}
	if !strings.Contains(r.stderr, "resolved "+host+"/web/site:v1 to "+ref) || !strings.Contains(r.stderr, "wrote by-tag (5 files") {
		t.Errorf("stderr = %q", r.stderr)
	}
	sameTree(t, tree(t, filepath.Join(work, "by-tag"), false), want)

	for _, args := range [][]string{
		{"pull", ref, "by-digest", "-q"},
		{"pull", "oci:layout", "from-layout", "-q"},
		{"pull", strings.Replace(ref, host+"/web/site", "oci:layout", 1), "from-layout-digest", "-q"},
	} {
		r := assetpack(t, work, nil, args...)
		if r.code != 0 || r.stderr != "" || !strings.HasSuffix(strings.TrimSpace(r.stdout), ref[strings.Index(ref, "@"):]) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
		sameTree(t, tree(t, filepath.Join(work, args[2]), false), want)
	}

	// --output tar:FILE: the same bytes every time, holding the tree.
	var tars [2][]byte
	for i := range tars {
		r := assetpack(t, work, nil, "pull", ref, "--output", "tar:site.tar", "--force")
		if r.code != 0 {
			t.Fatalf("pull --output: %d %s", r.code, r.stderr)
		}
		tars[i], _ = os.ReadFile(filepath.Join(work, "site.tar"))
	}
	if !bytes.Equal(tars[0], tars[1]) || len(tars[0]) == 0 {
		t.Error("two pulls to tar:site.tar differ")
	}
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(tars[0]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
	for p := range want {
		if !names[p] {
			t.Errorf("site.tar lacks %s", p)
		}
	}

	// --sub-path: an image built with --prefix, as a Pod with subPath sees it.
	pb := assetpack(t, work, nil, "build", "site", "--git=false", "--prefix", "srv/site", "-o", "oci:prefixed")
	if pb.code != 0 {
		t.Fatal(pb.stderr)
	}
	sp := assetpack(t, work, nil, "pull", "oci:prefixed", "sub", "--sub-path", "/srv/site")
	if sp.code != 0 {
		t.Fatalf("pull --sub-path: %d %s", sp.code, sp.stderr)
	}
	sameTree(t, tree(t, filepath.Join(work, "sub"), false), want)
}

// TestPullExamples runs, as written, the pull commands of 'assetpack pull
// --help' and of the README's pull section that need no registry.
func TestPullExamples(t *testing.T) {
	help := assetpack(t, t.TempDir(), nil, "pull", "--help")
	_, examples, _ := strings.Cut(help.stdout, "Examples:\n")
	examples, _, _ = strings.Cut(examples, "\n\n")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Getting files back: `assetpack pull`\n\n```sh\n")
	section, _, _ = strings.Cut(section, "```")
	for name, text := range map[string]string{"help": examples, "README": section} {
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			src, _ := filepath.Abs("../../examples/site")
			if err := os.CopyFS(filepath.Join(work, "examples", "site"), os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			ran := 0
			for _, line := range strings.Split(text, "\n") {
				line, _, _ = strings.Cut(line, "#")
				if strings.Contains(line, "ghcr.io") {
					continue // needs a registry
				}
				for _, cmd := range strings.Split(line, " && ") {
					args := strings.Fields(cmd)
					if len(args) == 0 || args[0] != "assetpack" {
						continue
					}
					ran++
					if r := assetpack(t, work, nil, args[1:]...); r.code != 0 {
						t.Errorf("%s: exit %d: %s", cmd, r.code, r.stderr)
					}
				}
			}
			if ran < 3 {
				t.Errorf("ran %d commands; the examples moved?", ran)
			}
			if _, err := os.Stat(filepath.Join(work, "site-copy", "index.html")); err != nil {
				t.Errorf("the examples did not write site-copy: %v", err)
			}
			if _, err := os.Stat(filepath.Join(work, "site.tar")); err != nil {
				t.Errorf("the examples did not write site.tar: %v", err)
			}
		})
	}
}

// TestPullFailures: what the user reads, the exit code, and that nothing
// was written.
func TestPullFailures(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	if b := assetpack(t, work, nil, "build", "site", "--git=false", "-t", host+"/web/site:v1", "--push"); b.code != 0 {
		t.Fatal(b.stderr)
	}
	if b := assetpack(t, work, nil, "build", "site", "--git=false", "--platform", "linux/arm64,linux/arm/v7", "-t", host+"/web/multi:v1", "--push"); b.code != 0 {
		t.Fatal(b.stderr)
	}
	// A hostile image: a symlink out of the destination, then a file through it.
	hostile := pushImage(t, host+"/evil/site:v1", []tarEntry{
		{name: "index.html", body: "hi"},
		{name: "up", link: "../outside", typ: tar.TypeSymlink},
		{name: "up/pwned", body: "pwned"},
	})
	os.MkdirAll(filepath.Join(work, "full", "mine"), 0o755)
	os.WriteFile(filepath.Join(work, "full", "mine", "keep.txt"), []byte("mine"), 0o600)
	os.MkdirAll(filepath.Join(work, "outside"), 0o755)
	before := listDir(t, work)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing tag", []string{"pull", host + "/web/site:nope", "out"}, 1, host + "/web/site:nope"},
		{"missing repository", []string{"pull", host + "/web/none:v1", "out"}, 1, host + "/web/none:v1"},
		{"platform not in the index", []string{"pull", host + "/web/multi:v1", "out", "--platform", "linux/s390x"}, 2,
			"has no image for linux/s390x; it has linux/arm64, linux/arm/v7; choose one with --platform"},
		{"no default platform", []string{"pull", host + "/web/multi:v1", "out"}, 2,
			"has 2 images (linux/arm64, linux/arm/v7) and none for linux/amd64; choose one with --platform"},
		{"bad platform", []string{"pull", host + "/web/site:v1", "out", "--platform", "linux"}, 2, `--platform "linux" is not of the form os/arch[/variant]`},
		{"not empty", []string{"pull", host + "/web/site:v1", "full"}, 2,
			`directory "full" is not empty; choose a new or empty directory, or pass --force to replace it`},
		{"not empty, tar", []string{"pull", host + "/web/site:v1", "--output", "tar:full/mine/keep.txt"}, 2, "pass --force to replace it"},
		{"hostile", []string{"pull", hostile, "out"}, 1, `unsafe symlink "up": its target "../outside" leads outside the destination`},
		{"sub path", []string{"pull", host + "/web/site:v1", "out", "--sub-path", "site"}, 2, `--sub-path "site" is not in the image; its top-level directories are bin/, css/, docs/, js/`},
		{"no DIR", []string{"pull", host + "/web/site:v1"}, 2, "pull needs a directory DIR to write"},
		{"no args", []string{"pull"}, 2, "pull needs an image REF and a directory DIR"},
		{"DIR and --output", []string{"pull", host + "/web/site:v1", "out", "-o", "tar:x.tar"}, 2, "not both"},
		{"bad --output", []string{"pull", host + "/web/site:v1", "-o", "oci:x"}, 2, `--output "oci:x": pull writes tar:FILE`},
		{"a directory as REF", []string{"pull", "site", "out"}, 2, `"site" is a directory; pull reads an image`},
		{"verification flag alone", []string{"pull", host + "/web/site:v1", "out", "--key", "cosign.pub"}, 2, "--key checks a signature only with --require-signature"},
		{"signature of a local image", []string{"pull", "oci:layout", "out", "--require-signature"}, 2, "checks signatures in a registry"},
		{"missing layout", []string{"pull", "oci:nothing", "out"}, 2, "oci:nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := assetpack(t, work, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
			if strings.Count(r.stderr, "assetpack: ") != 1 {
				t.Errorf("stderr = %q, want one error", r.stderr)
			}
			if after := listDir(t, work); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("files changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
	// --force replaces the directory that was refused.
	r := assetpack(t, work, nil, "pull", host+"/web/site:v1", "full", "--force", "-q")
	if r.code != 0 {
		t.Fatalf("pull --force: %d %s", r.code, r.stderr)
	}
	sameTree(t, tree(t, filepath.Join(work, "full"), false), tree(t, filepath.Join(work, "site"), true))
	// An asked-for platform of an index.
	arm := assetpack(t, work, nil, "pull", host+"/web/multi:v1", "arm", "--platform", "linux/arm/v7")
	if arm.code != 0 || !strings.Contains(arm.stderr, "picked the linux/arm/v7 image sha256:") {
		t.Errorf("pull --platform linux/arm/v7: %d %s", arm.code, arm.stderr)
	}
}

// TestPullRequireSignature: --require-signature pulls a signed image, and
// refuses an unsigned one before writing anything.
func TestPullRequireSignature(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	if g := assetpack(t, work, env, "generate-key-pair"); g.code != 0 {
		t.Fatal(g.stderr)
	}
	signed := assetpack(t, work, env, "build", "site", "--git=false", "-t", host+"/web/signed:v1", "--push", "--sign", "--key", "cosign.key")
	unsigned := assetpack(t, work, env, "build", "site", "--git=false", "--prefix", "x", "-t", host+"/web/unsigned:v1", "--push")
	if signed.code != 0 || unsigned.code != 0 {
		t.Fatalf("build: %s %s", signed.stderr, unsigned.stderr)
	}
	verify := []string{"--require-signature", "--key", "cosign.pub", "--insecure-ignore-tlog"}
	r := assetpack(t, work, env, append([]string{"pull", host + "/web/signed:v1", "out"}, verify...)...)
	if r.code != 0 || r.stdout != signed.stdout || !regexp.MustCompile(`verified .*: 1 valid signature\(s\)`).MatchString(r.stderr) {
		t.Errorf("pull of a signed image: %d %q %s", r.code, r.stdout, r.stderr)
	}
	u := assetpack(t, work, env, append([]string{"pull", host + "/web/unsigned:v1", "refused"}, verify...)...)
	if u.code != 1 || !strings.Contains(u.stderr, "no valid signature") {
		t.Errorf("pull of an unsigned image: %d %s", u.code, u.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "refused")); err == nil {
		t.Error("an unsigned image was written")
	}
	// Every trust flag pull takes from verify counts: --require-tlog
	// refuses a key signature without a log entry, as verify does (a
	// private Sigstore's root: nothing leaves 127.0.0.1).
	tlog := []string{"--key", "cosign.pub", "--require-tlog", "--trusted-root", testsigstore.New(t).TrustedRoot}
	v := assetpack(t, work, env, append([]string{"verify", host + "/web/signed:v1"}, tlog...)...)
	p := assetpack(t, work, env, append([]string{"pull", host + "/web/signed:v1", "no-tlog", "--require-signature"}, tlog...)...)
	if v.code != 1 || p.code != 1 || !strings.Contains(p.stderr, "no valid signature") {
		t.Errorf("--require-tlog: verify exit %d, pull exit %d:\n%s", v.code, p.code, p.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "no-tlog")); err == nil {
		t.Error("an image without the required log entry was written")
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
}

// pushImage pushes a hand-made one-layer image and returns its digest reference.
func pushImage(t *testing.T, tag string, entries []tarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		tw.WriteHeader(h)
		io.WriteString(tw, e.body)
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, "application/vnd.oci.image.manifest.v1+json"), "application/vnd.oci.image.config.v1+json")
	ref, err := name.ParseReference(tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return ref.Context().Digest(d.String()).String()
}
