package publish_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
	"github.com/assetpack/assetpack/publish"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want publish.Target
		err  bool
	}{
		{in: "oci:out/site", want: publish.Target{Kind: publish.Layout, Path: "out/site"}},
		{in: "oci-layout:/abs/x", want: publish.Target{Kind: publish.Layout, Path: "/abs/x"}},
		{in: "tar:site.tar", want: publish.Target{Kind: publish.Archive, Path: "site.tar"}},
		{in: "oci-archive:a/b", want: publish.Target{Kind: publish.Archive, Path: "a/b"}},
		{in: "plain/dir", want: publish.Target{Kind: publish.Layout, Path: "plain/dir"}},
		{in: "img.tar", want: publish.Target{Kind: publish.Archive, Path: "img.tar"}},
		{in: "oci:", err: true},
		{in: "docker:foo", err: true},
	} {
		got, err := publish.ParseTarget(tc.in)
		if tc.err {
			if !errors.Is(err, publish.ErrInvalidTarget) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseTarget(%q) = %v, want ErrInvalidTarget naming it", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func buildInto(t *testing.T, o *publish.Output, opts ...builder.Option) *builder.Result {
	t.Helper()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>\n"), 0o644)
	os.MkdirAll(filepath.Join(src, "css"), 0o755)
	os.WriteFile(filepath.Join(src, "css", "a.css"), []byte("a{}\n"), 0o644)
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(1, 0)),
		builder.WithHooks(hooks.Build{WorkDir: o.WorkDir()})}, opts...)
	res, err := builder.Build(context.Background(), src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func write(t *testing.T, tgt publish.Target, opts ...builder.Option) *builder.Result {
	t.Helper()
	o, err := publish.NewOutput(tgt)
	if err != nil {
		t.Fatalf("NewOutput(%v) = %v", tgt, err)
	}
	defer o.Close()
	res := buildInto(t, o, opts...)
	if err := o.Write(context.Background(), res.Artifact(), "latest"); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := o.Commit(); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	return res
}

func TestLayoutReadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "site")
	res := write(t, publish.Target{Kind: publish.Layout, Path: dir})
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("layout.FromPath() = %v", err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != res.Digest || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Fatalf("index.json = %+v, want one manifest %s named latest", im.Manifests, res.Digest)
	}
	img, err := ii.Image(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
	// The staging directory is gone.
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".site.assetpack-tmp-*")); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
	// Writing again replaces the layout; an index replaces an image.
	ps, _ := builder.ParsePlatforms([]string{"linux/amd64,linux/arm64"})
	res2 := write(t, publish.Target{Kind: publish.Layout, Path: dir}, builder.WithPlatforms(ps...))
	p, _ = layout.FromPath(dir)
	ii, _ = p.ImageIndex()
	im, _ = ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != res2.Digest {
		t.Fatalf("rewritten index.json = %+v, want %s", im.Manifests, res2.Digest)
	}
	child, err := ii.ImageIndex(res2.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(child); err != nil {
		t.Errorf("validate.Index() = %v", err)
	}
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	// index + 2 manifests + 2 configs + 1 shared layer: the old image's blobs are gone.
	if len(blobs) != 6 {
		t.Errorf("layout holds %d blobs, want 6", len(blobs))
	}
}

func TestArchive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "site.tar")
	res := write(t, publish.Target{Kind: publish.Archive, Path: file})
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	extract := t.TempDir()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		p := filepath.Join(extract, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		b, _ := io.ReadAll(tr)
		os.WriteFile(p, b, 0o644)
	}
	if len(names) < 4 || names[0] != "oci-layout" || names[1] != "index.json" {
		t.Errorf("archive entries = %q, want oci-layout and index.json first", names)
	}
	p, err := layout.FromPath(extract)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(res.Digest)
	if err != nil {
		t.Fatalf("extracted archive lacks %s: %v", res.Digest, err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
	// A second write of the same image gives the same bytes.
	first, _ := os.ReadFile(file)
	write(t, publish.Target{Kind: publish.Archive, Path: file})
	second, _ := os.ReadFile(file)
	if string(first) != string(second) {
		t.Error("archive bytes differ between two writes of the same image")
	}
}

func TestRefusesForeignOutput(t *testing.T) {
	tmp := t.TempDir()
	notLayout := filepath.Join(tmp, "docs")
	os.MkdirAll(notLayout, 0o755)
	os.WriteFile(filepath.Join(notLayout, "important.txt"), []byte("keep me"), 0o644)
	notTar := filepath.Join(tmp, "notes.tar")
	os.WriteFile(notTar, []byte("not a tar at all, and longer than nothing"), 0o644)
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tgt := range []publish.Target{
		{Kind: publish.Layout, Path: notLayout},
		{Kind: publish.Layout, Path: file},
		{Kind: publish.Archive, Path: notTar},
		{Kind: publish.Archive, Path: notLayout},
	} {
		_, err := publish.NewOutput(tgt)
		if !errors.Is(err, publish.ErrOutputExists) || !strings.Contains(err.Error(), tgt.Path) {
			t.Errorf("NewOutput(%v) = %v, want ErrOutputExists naming the path", tgt, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(notLayout, "important.txt")); string(b) != "keep me" {
		t.Error("foreign directory was modified")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 3 {
		t.Errorf("refused outputs left %d entries in the parent, want 3", len(entries))
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "site")
	o, err := publish.NewOutput(publish.Target{Kind: publish.Layout, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	res := buildInto(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Write(ctx, res.Artifact(), "latest"); !errors.Is(err, context.Canceled) {
		t.Errorf("Write(cancelled) = %v, want context.Canceled", err)
	}
	o.Close()
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("an aborted output left %v", entries)
	}
}

// TestConcurrentWriters: two builds writing the same output at once; one
// wins whole each time, nothing is mixed and no staging is left.
func TestConcurrentWriters(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "site")
	for round := 0; round < 8; round++ {
		digests := make(chan string, 2)
		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			go func(i int) {
				o, err := publish.NewOutput(publish.Target{Kind: publish.Layout, Path: dir})
				if err != nil {
					errs <- err
					return
				}
				defer o.Close()
				src := t.TempDir()
				os.WriteFile(filepath.Join(src, "f.txt"), []byte(fmt.Sprintf("writer %d round %d", i, round)), 0o644)
				res, err := builder.Build(context.Background(), src, builder.WithGit(false), builder.WithHooks(hooks.Build{WorkDir: o.WorkDir()}))
				if err != nil {
					errs <- err
					return
				}
				defer res.Close()
				if err := o.Write(context.Background(), res.Artifact(), "latest"); err != nil {
					errs <- err
					return
				}
				digests <- res.Digest.String()
				err = o.Commit()
				res.Close()
				o.Close()
				errs <- err
			}(i)
		}
		for i := 0; i < 2; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		close(digests)
		var ds []string
		for d := range digests {
			ds = append(ds, d)
		}
		p, err := layout.FromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		ii, _ := p.ImageIndex()
		im, _ := ii.IndexManifest()
		if len(im.Manifests) != 1 || (im.Manifests[0].Digest.String() != ds[0] && im.Manifests[0].Digest.String() != ds[1]) {
			t.Fatalf("round %d: layout holds %v, want one of %v", round, im.Manifests, ds)
		}
		img, err := ii.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("round %d: mixed layout: %v", round, err)
		}
		if left, _ := filepath.Glob(filepath.Join(parent, ".site.assetpack-tmp-*")); len(left) > 0 {
			t.Fatalf("round %d: staging left: %v", round, left)
		}
		blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		if len(blobs) != 3 {
			t.Fatalf("round %d: %d blobs, want exactly one image's 3", round, len(blobs))
		}
	}
}
