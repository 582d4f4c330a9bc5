package unpack_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/unpack"
)

var epoch = time.Unix(1700000000, 0)

func build(t *testing.T, src string, opts ...builder.Option) *builder.Result {
	t.Helper()
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(epoch)}, opts...)
	res, err := builder.Build(context.Background(), src, opts...)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// normalised is what the builder stores of a tree's modes: 0755 for
// directories and files with an exec bit, 0644 for other files.
func normalised(src map[string]node) map[string]node {
	out := map[string]node{}
	for p, n := range src {
		switch {
		case n.mode.IsDir():
			n.mode = fs.ModeDir | 0o755
		case n.mode&fs.ModeSymlink != 0:
		case n.mode&0o111 != 0:
			n.mode = 0o755
		default:
			n.mode = 0o644
		}
		out[p] = n
	}
	return out
}

// oddTree writes a tree with the shapes that matter: odd and long names,
// empty directories, relative symlinks to files and directories, exec
// bits, hard links (stored by the builder as regular files).
func oddTree(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"index.html":         "<!doctype html>\n",
		"with space/a b.txt": "spaces\n",
		"données/été.txt":    "ünïcödé\n",
		"-dash/--flag":       "dash\n",
		"a/b/c/d/e/deep.txt": "deep\n",
		"quote'\"/x":         "quotes\n",
		"empty-file":         "",
		strings.Repeat("n", 120) + "/" + strings.Repeat("f", 150) + ".txt": "long\n",
	}
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "run.sh"), []byte("#!/bin/sh\necho ok\n"), 0o755)
	os.MkdirAll(filepath.Join(root, "empty", "nested-empty"), 0o755)
	os.Symlink("../index.html", filepath.Join(root, "bin", "home.html"))
	os.Symlink("a/b", filepath.Join(root, "to-dir"))
	os.Link(filepath.Join(root, "index.html"), filepath.Join(root, "hard.html"))
	for _, d := range []string{"a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e", "bin", "empty", "empty/nested-empty", "with space", "données", "-dash", "quote'\"", strings.Repeat("n", 120)} {
		os.Chmod(filepath.Join(root, d), 0o755)
	}
}

// checkTimes: every path has the image's one timestamp (symlinks their own).
func checkTimes(t *testing.T, root string, want time.Time) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, _ := os.Lstat(p)
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), want)
		}
		return nil
	})
}

// TestRoundTrip builds trees with package builder and writes them back:
// the same files, bytes, modes, symlink targets and directories, with the
// image's timestamps.
func TestRoundTrip(t *testing.T) {
	odd := filepath.Join(t.TempDir(), "odd")
	oddTree(t, odd)
	for _, tc := range []struct {
		name string
		src  string
		opts []builder.Option
	}{
		{"site", "../testdata/site", nil},
		{"site zstd", "../testdata/site", []builder.Option{builder.WithCompression(builder.Zstd)}},
		{"site zstd-best", "../testdata/site", []builder.Option{builder.WithCompression(builder.ZstdBest)}},
		{"odd tree", odd, nil},
		{"odd tree uncompressed", odd, []builder.Option{builder.WithCompression(builder.None)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := build(t, tc.src, tc.opts...)
			dst := filepath.Join(t.TempDir(), "out")
			r, err := unpack.ToDir(context.Background(), res.Image, dst)
			if err != nil {
				t.Fatalf("ToDir() = %v", err)
			}
			want := normalised(snapshot(t, tc.src))
			compareTrees(t, snapshot(t, dst), want)
			checkTimes(t, dst, epoch)
			if r.Digest != res.Digest || r.Files+r.Symlinks != res.Files {
				t.Errorf("Result = %+v, want digest %s and %d files and symlinks", r, res.Digest, res.Files)
			}
		})
	}
}

// TestRoundTripLayers: a tree split into several layers (one of them a
// 33 MiB file of its own, stored uncompressed) comes back whole.
func TestRoundTripLayers(t *testing.T) {
	src := filepath.Join(t.TempDir(), "model")
	oddTree(t, src)
	big := make([]byte, 33<<20)
	rand.New(rand.NewSource(1)).Read(big)
	os.MkdirAll(filepath.Join(src, "weights"), 0o755)
	os.WriteFile(filepath.Join(src, "weights", "model.bin"), big, 0o644)
	for i := 0; i < 40; i++ { // enough small files for several small layers
		os.WriteFile(filepath.Join(src, "weights", "shard-"+string(rune('a'+i%26))+string(rune('a'+i/26))), bytes.Repeat([]byte{byte(i)}, 300<<10), 0o644)
	}
	res := build(t, src, builder.WithLayers(builder.LayersAuto))
	if len(res.Layers) < 3 {
		t.Fatalf("the build made %d layers, want a split", len(res.Layers))
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.ToDir(context.Background(), res.Image, dst); err != nil {
		t.Fatalf("ToDir() = %v", err)
	}
	compareTrees(t, snapshot(t, dst), normalised(snapshot(t, src)))
}

// TestIndex: an index's platform is picked, as asked or by default.
func TestIndex(t *testing.T) {
	amd64, arm64 := v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}
	res := build(t, "../testdata/site", builder.WithPlatforms(amd64, arm64))
	im, _ := res.Index.IndexManifest()
	for _, tc := range []struct {
		want *v1.Platform
		idx  int
	}{{nil, 0}, {&amd64, 0}, {&arm64, 1}, {&v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, -1}} {
		img, err := unpack.Select(res.Index, tc.want)
		if tc.idx < 0 {
			if !errors.Is(err, unpack.ErrPlatform) || !strings.Contains(err.Error(), "has no image for linux/arm64/v8; it has linux/amd64, linux/arm64") {
				t.Errorf("Select(%v) = %v, want ErrPlatform listing the platforms", tc.want, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Select(%v) = %v", tc.want, err)
		}
		if d, _ := img.Digest(); d != im.Manifests[tc.idx].Digest {
			t.Errorf("Select(%v) = %s, want %s", tc.want, d, im.Manifests[tc.idx].Digest)
		}
		dst := filepath.Join(t.TempDir(), "out")
		if _, err := unpack.ToDir(context.Background(), img, dst); err != nil {
			t.Fatalf("ToDir() = %v", err)
		}
		compareTrees(t, snapshot(t, dst), normalised(snapshot(t, "../testdata/site")))
	}
	// Without linux/amd64 and with more than one, the caller must choose.
	other := build(t, "../testdata/site", builder.WithPlatforms(arm64, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}))
	if _, err := unpack.Select(other.Index, nil); !errors.Is(err, unpack.ErrPlatform) ||
		!strings.Contains(err.Error(), "has 2 images (linux/arm64, linux/arm/v7) and none for linux/amd64; choose a platform") {
		t.Errorf("Select(nil) = %v", err)
	}
	// A single manifest is what it is, whatever platform is asked for.
	single := build(t, "../testdata/site")
	if img, err := unpack.Select(single.Image, &arm64); err != nil || img != single.Image {
		t.Errorf("Select(image, linux/arm64) = %v, %v; want the image", img, err)
	}
}

// TestToTar: a deterministic flattened tar of the tree, hard links and
// all, that holds what ToDir writes.
func TestToTar(t *testing.T) {
	img := image(t,
		layer(t, dir("d"), file("d/a", "A"), exe("d/run", "#!/bin/sh\n"), file("gone", "x"), dir("empty")),
		layer(t, hardlink("d/b", "d/a"), symlink("l", "d/a"), file(".wh.gone", "")))
	dir := t.TempDir()
	var tars [2][]byte
	for i := range tars {
		f := filepath.Join(dir, "out"+string(rune('0'+i))+".tar")
		r, err := unpack.ToTar(context.Background(), img, f)
		if err != nil {
			t.Fatalf("ToTar() = %v", err)
		}
		if r.Files != 3 || r.HardLinks != 1 || r.Dirs != 2 || r.Symlinks != 1 || r.Bytes != int64(len("A#!/bin/sh\n")) {
			t.Errorf("Result = %+v", r)
		}
		tars[i], _ = os.ReadFile(f)
	}
	if !bytes.Equal(tars[0], tars[1]) {
		t.Error("two ToTar of the same image differ")
	}
	var got []string
	tr := tar.NewReader(bytes.NewReader(tars[0]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || !h.ModTime.Equal(mtime) {
			t.Errorf("%s: uid %d gid %d uname %q mtime %v", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		got = append(got, strings.TrimSpace(strings.Join([]string{string(h.Typeflag), h.Name, h.Linkname, string(b)}, " ")))
	}
	want := []string{"5 d/", "0 d/a  A", "1 d/b d/a", "0 d/run  #!/bin/sh", "5 empty/", "2 l d/a"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tar entries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLayersApplied: whiteouts, opaque directories, replaced files, hard
// links across layers, empty and read-only directories, as a runtime
// shows them.
func TestLayersApplied(t *testing.T) {
	ro := dir("ro")
	ro.mode = 0o555
	img := image(t,
		layer(t, dir("./"), dir("d"), file("d/x", "x"), file("d/y", "y"), dir("o"), file("o/old", "old"),
			file("keep", "keep"), file("f", "old f"), hardlink("f2", "f"), dir("empty")),
		layer(t, file("d/.wh.x", ""), dir("o"), file("o/.wh..wh..opq", ""), file("o/new", "new"),
			file("f", "new f"), hardlink("k2", "keep"), ro, file("ro/r", "r")),
		layer(t, file(".wh.keep", "")))
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.ToDir(context.Background(), img, dst); err != nil {
		t.Fatalf("ToDir() = %v", err)
	}
	compareTrees(t, snapshot(t, dst), map[string]node{
		"d":     {mode: fsDir(0o755)},
		"d/y":   {mode: 0o644, data: sha("y")},
		"o":     {mode: fsDir(0o755)},
		"o/new": {mode: 0o644, data: sha("new")},
		"f":     {mode: 0o644, data: sha("new f")},
		"f2":    {mode: 0o644, data: sha("old f")}, // the link keeps the bytes it was made with
		"k2":    {mode: 0o644, data: sha("keep")},  // and outlives its target's whiteout
		"empty": {mode: fsDir(0o755)},
		"ro":    {mode: fsDir(0o555)},
		"ro/r":  {mode: 0o644, data: sha("r")},
	})
	checkTimes(t, dst, mtime)
	// A read-only directory does not stop a replacement.
	if _, err := unpack.ToDir(context.Background(), image(t, layer(t, file("new", "n"))), dst, unpack.WithReplace(true)); err != nil {
		t.Fatalf("ToDir(WithReplace) over a tree with a read-only directory = %v", err)
	}
	compareTrees(t, snapshot(t, dst), map[string]node{"new": {mode: 0o644, data: sha("n")}})
}

// TestHardLinksShareAnInode: the paths of one inode in the image are one
// inode on disk.
func TestHardLinksShareAnInode(t *testing.T) {
	img := image(t, layer(t, file("a", "body"), hardlink("b", "a")), layer(t, hardlink("c", "b")))
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.ToDir(context.Background(), img, dst); err != nil {
		t.Fatalf("ToDir() = %v", err)
	}
	a, _ := os.Stat(filepath.Join(dst, "a"))
	for _, p := range []string{"b", "c"} {
		if fi, err := os.Stat(filepath.Join(dst, p)); err != nil || !os.SameFile(a, fi) {
			t.Errorf("%s is not a hard link to a: %v", p, err)
		}
	}
}

// TestSubPath: only a directory of the image, as a Pod mounting it with
// subPath sees it.
func TestSubPath(t *testing.T) {
	res := build(t, "../testdata/site", builder.WithPrefix("srv/site"))
	for _, sub := range []string{"srv/site", "/srv/site/"} {
		dst := filepath.Join(t.TempDir(), "out")
		if _, err := unpack.ToDir(context.Background(), res.Image, dst, unpack.WithSubPath(sub)); err != nil {
			t.Fatalf("ToDir(WithSubPath(%q)) = %v", sub, err)
		}
		compareTrees(t, snapshot(t, dst), normalised(snapshot(t, "../testdata/site")))
	}
	for sub, want := range map[string]string{
		"site":                      `sub path "site" is not in the image; its top-level directories are srv/`,
		"srv/site/index.html":       `sub path "srv/site/index.html" is a file in the image, not a directory`,
		"srv/site/docs/home.html/x": `sub path "srv/site/docs/home.html/x" is below "srv/site/docs/home.html", which is a symlink in the image`,
		"../x":                      `sub path "../x" contains ".."`,
	} {
		_, err := unpack.ToDir(context.Background(), res.Image, filepath.Join(t.TempDir(), "out"), unpack.WithSubPath(sub))
		var oe *unpack.OptionError
		if !errors.As(err, &oe) || !errors.Is(err, unpack.ErrInvalidOption) || !strings.Contains(err.Error(), want) {
			t.Errorf("WithSubPath(%q): %v, want an OptionError containing %q", sub, err, want)
		}
	}
	// A symlink that leaves the sub path leaves the destination.
	img := image(t, layer(t, dir("site"), file("shared.css", "x"), symlink("site/style.css", "../shared.css")))
	if _, err := unpack.ToDir(context.Background(), img, filepath.Join(t.TempDir(), "out"), unpack.WithSubPath("site")); !errors.Is(err, unpack.ErrUnsafe) {
		t.Errorf("a symlink out of the sub path: %v, want ErrUnsafe", err)
	}
}

// TestDestination: what may be written over, and what is left behind.
func TestDestination(t *testing.T) {
	img := image(t, layer(t, file("a", "a")))
	ctx := context.Background()
	parent := t.TempDir()
	full := filepath.Join(parent, "full")
	os.MkdirAll(filepath.Join(full, "mine"), 0o755)
	if err := unpack.CheckDir(full); !errors.Is(err, unpack.ErrExists) {
		t.Errorf("CheckDir(non-empty) = %v", err)
	}
	if err := unpack.CheckDir(full, unpack.WithReplace(true)); err != nil {
		t.Errorf("CheckDir(non-empty, WithReplace) = %v", err)
	}
	if err := unpack.CheckTar(full, unpack.WithReplace(true)); !errors.Is(err, unpack.ErrExists) {
		t.Errorf("CheckTar(a directory) = %v", err)
	}
	_, err := unpack.ToDir(ctx, img, full)
	if !errors.Is(err, unpack.ErrExists) || !strings.Contains(err.Error(), `directory "`+full+`" is not empty; choose a new or empty directory, or replace it (WithReplace)`) {
		t.Errorf("ToDir(non-empty) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(full, "mine")); err != nil {
		t.Errorf("the refused destination changed: %v", err)
	}
	if _, err := unpack.ToDir(ctx, img, full, unpack.WithReplace(true)); err != nil {
		t.Fatalf("ToDir(WithReplace) = %v", err)
	}
	compareTrees(t, snapshot(t, full), map[string]node{"a": {mode: 0o644, data: sha("a")}})
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o700)
	if _, err := unpack.ToDir(ctx, img, empty); err != nil {
		t.Errorf("ToDir(empty directory) = %v", err)
	}
	os.WriteFile(filepath.Join(parent, "file"), []byte("x"), 0o644)
	os.Symlink("full", filepath.Join(parent, "link"))
	for _, p := range []string{"file", "link"} {
		if _, err := unpack.ToDir(ctx, img, filepath.Join(parent, p), unpack.WithReplace(true)); !errors.Is(err, unpack.ErrExists) || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("ToDir(%s) = %v", p, err)
		}
	}
	if _, err := unpack.ToTar(ctx, img, filepath.Join(parent, "file")); !errors.Is(err, unpack.ErrExists) {
		t.Errorf("ToTar(non-empty file) = %v", err)
	}
	if _, err := unpack.ToTar(ctx, img, filepath.Join(parent, "file"), unpack.WithReplace(true)); err != nil {
		t.Errorf("ToTar(WithReplace) = %v", err)
	}
	if _, err := unpack.ToTar(ctx, img, full, unpack.WithReplace(true)); !errors.Is(err, unpack.ErrExists) {
		t.Errorf("ToTar(a directory) = %v", err)
	}
	// Missing parents are made, and removed again when the unpack fails.
	if _, err := unpack.ToDir(ctx, img, filepath.Join(parent, "new", "deep", "out")); err != nil {
		t.Errorf("ToDir(missing parents) = %v", err)
	}
	bad := image(t, layer(t, file("../x", "x")))
	if _, err := unpack.ToDir(ctx, bad, filepath.Join(parent, "gone", "deep", "out")); err == nil {
		t.Error("ToDir(hostile) succeeded")
	}
	want := "empty\nempty/a\nfile\nfull\nfull/a\nlink\nnew\nnew/deep\nnew/deep/out\nnew/deep/out/a"
	if got := listDir(t, parent); got != want {
		t.Errorf("left behind:\n%s\nwant\n%s", got, want)
	}
	// A cancelled context stops the unpack and leaves nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := unpack.ToDir(cctx, img, filepath.Join(parent, "cancelled")); !errors.Is(err, context.Canceled) {
		t.Errorf("ToDir(cancelled) = %v", err)
	}
	if got := listDir(t, parent); got != want {
		t.Errorf("a cancelled unpack left:\n%s", got)
	}
}
