package builder_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/assetpack/assetpack/builder"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

func buildPlatforms(t *testing.T, sources []builder.PlatformSource, opts ...builder.Option) *builder.Result {
	t.Helper()
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(1700000000, 0))}, opts...)
	res, err := builder.BuildPlatforms(context.Background(), sources, opts...)
	if err != nil {
		t.Fatalf("BuildPlatforms() = %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// platformDirs writes a directory per platform holding a "program" whose
// bytes name the platform, plus a file common to both.
func platformDirs(t *testing.T) (amdDir, armDir string) {
	t.Helper()
	root := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		writeTree(t, filepath.Join(root, arch), []treeFile{
			{path: "assetpack", body: "\x7fELF " + arch + "\n", exec: true},
			{path: "LICENSE", body: "Apache-2.0\n"},
		})
	}
	return filepath.Join(root, "amd64"), filepath.Join(root, "arm64")
}

// TestBuildPlatforms: each platform's manifest has its own directory's
// layer and a config naming its platform; the index lists both in order.
func TestBuildPlatforms(t *testing.T) {
	amd, arm := platformDirs(t)
	res := buildPlatforms(t, []builder.PlatformSource{{Platform: amd64, Dir: amd}, {Platform: arm64, Dir: arm}})
	if res.Index == nil || res.Image != nil {
		t.Fatalf("want an index, got image %v index %v", res.Image, res.Index)
	}
	if len(res.Platforms) != 2 || res.Files != 4 || len(res.Layers) != 2 {
		t.Fatalf("platforms %v, files %d, layers %d; want 2 platforms, 4 files, 2 layers", res.Platforms, res.Files, len(res.Layers))
	}
	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index lists %d manifests", len(im.Manifests))
	}
	layers := map[v1.Hash]bool{}
	for i, want := range []v1.Platform{amd64, arm64} {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.String() != want.String() {
			t.Errorf("manifest %d: platform %v, want %v", i, d.Platform, want)
		}
		img, err := res.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != want.OS || cfg.Architecture != want.Architecture {
			t.Errorf("manifest %d: config says %s/%s, want %v", i, cfg.OS, cfg.Architecture, want)
		}
		ls, _ := img.Layers()
		if len(ls) != 1 {
			t.Fatalf("manifest %d has %d layers", i, len(ls))
		}
		dg, _ := ls[0].Digest()
		layers[dg] = true
		body := readEntry(t, ls[0], "assetpack")
		if !strings.Contains(body, want.Architecture) {
			t.Errorf("manifest %d: program is %q, want the %s one", i, body, want.Architecture)
		}
	}
	if len(layers) != 2 {
		t.Errorf("the platforms share a layer: %v", layers)
	}
	if res.Annotations[builder.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("annotations = %v", res.Annotations)
	}

	// Written out as an OCI layout, it is a valid index.
	p, err := layout.Write(filepath.Join(t.TempDir(), "out"), res.Index)
	if err != nil {
		t.Fatalf("layout.Write() = %v", err)
	}
	if _, err := p.ImageIndex(); err != nil {
		t.Fatal(err)
	}
}

func readEntry(t *testing.T, l v1.Layer, name string) string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the layer: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

// TestBuildPlatformsDeterministic: the same directories give the same
// index digest, whatever the mtimes or the work directory; another order
// of platforms gives another index.
func TestBuildPlatformsDeterministic(t *testing.T) {
	amd, arm := platformDirs(t)
	sources := []builder.PlatformSource{{Platform: amd64, Dir: amd}, {Platform: arm64, Dir: arm}}
	want := buildPlatforms(t, sources).Digest

	amd2, arm2 := platformDirs(t)
	for _, d := range []string{amd2, arm2} {
		ts := time.Unix(123456789, 0)
		os.Chtimes(filepath.Join(d, "assetpack"), ts, ts)
	}
	if got := buildPlatforms(t, []builder.PlatformSource{{Platform: amd64, Dir: amd2}, {Platform: arm64, Dir: arm2}}, builder.WithJobs(1)).Digest; got != want {
		t.Errorf("rebuild from a copy: %s, want %s", got, want)
	}
	if got := buildPlatforms(t, []builder.PlatformSource{{Platform: arm64, Dir: arm}, {Platform: amd64, Dir: amd}}).Digest; got == want {
		t.Error("the order of the platforms does not change the index")
	}
	// One source: a single manifest, as WithPlatforms with one platform.
	one := buildPlatforms(t, sources[:1])
	if one.Image == nil || one.Index != nil {
		t.Fatalf("one source: image %v index %v", one.Image, one.Index)
	}
	if same := build(t, amd, builder.WithPlatforms(amd64)); same.Digest != one.Digest {
		t.Errorf("one source: %s, Build of the same directory: %s", one.Digest, same.Digest)
	}
}

// TestBuildPlatformsSharedContent: platforms with identical directories
// share one blob, listed once.
func TestBuildPlatformsSharedContent(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	res := buildPlatforms(t, []builder.PlatformSource{{Platform: amd64, Dir: dir}, {Platform: arm64, Dir: dir}})
	if len(res.Layers) != 1 {
		t.Errorf("got %d layers, want the one shared", len(res.Layers))
	}
	// The same index as Build with two platforms over one directory.
	if same := build(t, dir, builder.WithPlatforms(amd64, arm64)); same.Digest != res.Digest {
		t.Errorf("BuildPlatforms over one directory: %s, Build with two platforms: %s", res.Digest, same.Digest)
	}
}

func TestBuildPlatformsBadInput(t *testing.T) {
	amd, _ := platformDirs(t)
	for name, sources := range map[string][]builder.PlatformSource{
		"none":          nil,
		"twice":         {{Platform: amd64, Dir: amd}, {Platform: amd64, Dir: amd}},
		"no arch":       {{Platform: v1.Platform{OS: "linux"}, Dir: amd}},
		"missing dir":   {{Platform: amd64, Dir: amd}, {Platform: arm64, Dir: filepath.Join(amd, "nope")}},
		"file, not dir": {{Platform: amd64, Dir: filepath.Join(amd, "LICENSE")}},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := builder.BuildPlatforms(context.Background(), sources, builder.WithGit(false))
			if err == nil {
				res.Close()
				t.Fatal("BuildPlatforms() = nil error")
			}
			if !errors.Is(err, builder.ErrBadInput) {
				t.Errorf("BuildPlatforms() = %v, want ErrBadInput", err)
			}
		})
	}
}

func TestParsePlatformSources(t *testing.T) {
	got, err := builder.ParsePlatformSources([]string{"linux/amd64=dist/amd64", "linux/arm64/v8=dist/arm 64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "linux/amd64=dist/amd64" || got[1].Platform.Variant != "v8" || got[1].Dir != "dist/arm 64" {
		t.Errorf("ParsePlatformSources() = %v", got)
	}
	for _, bad := range []string{"linux/amd64", "linux/amd64=", "linux=dist", "linux/amd64,linux/arm64=dist", "=dist"} {
		if _, err := builder.ParsePlatformSources([]string{bad}); !errors.Is(err, builder.ErrInvalidOption) {
			t.Errorf("ParsePlatformSources(%q) = %v, want ErrInvalidOption", bad, err)
		}
	}
	if _, err := builder.ParsePlatformSources([]string{"linux/amd64=a", "linux/amd64=b"}); err == nil || !strings.Contains(err.Error(), "two directories") {
		t.Errorf("a platform twice: %v", err)
	}
}
