package sign_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/sign"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "css"), 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>x</h1>"), 0o644)
	os.WriteFile(filepath.Join(dir, "css", "a.css"), []byte("a{}"), 0o755)
	os.Symlink("index.html", filepath.Join(dir, "home.html"))
	res, err := builder.Build(context.Background(), dir, builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(0, 0)), builder.WithPrefix("site"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	p, err := sign.Files(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("<h1>x</h1>"))
	want := []sign.FileEntry{
		{Path: "site", Type: "dir", Mode: "0755"},
		{Path: "site/css", Type: "dir", Mode: "0755"},
		{Path: "site/css/a.css", Type: "file", Mode: "0755", Size: 3, SHA256: hexSum("a{}")},
		{Path: "site/home.html", Type: "symlink", Mode: "0777", LinkTarget: "index.html"},
		{Path: "site/index.html", Type: "file", Mode: "0644", Size: 10, SHA256: hex.EncodeToString(sum[:])},
	}
	if len(p.Files) != len(want) || p.FileCount != 2 || p.TotalBytes != 13 {
		t.Fatalf("predicate = %+v", p)
	}
	for i := range want {
		if p.Files[i] != want[i] {
			t.Errorf("file %d = %+v, want %+v", i, p.Files[i], want[i])
		}
	}
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestFilesOfLayers: an image not built by assetpack, whose second layer
// deletes a file with a whiteout and adds a hard link, lists what a
// runtime mounts.
func TestFilesOfLayers(t *testing.T) {
	layer := func(hs ...*tar.Header) v1.Layer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hs {
			tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				io.WriteString(tw, strings.Repeat("x", int(h.Size)))
			}
		}
		tw.Close()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	img, err := mutate.AppendLayers(empty.Image,
		layer(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}, &tar.Header{Name: "b", Typeflag: tar.TypeReg, Mode: 0o600, Size: 5}),
		layer(&tar.Header{Name: ".wh.a", Typeflag: tar.TypeReg}, &tar.Header{Name: "c", Typeflag: tar.TypeLink, Linkname: "b"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sign.Files(img)
	if err != nil {
		t.Fatalf("Files() = %v", err)
	}
	want := []sign.FileEntry{
		{Path: "b", Type: "file", Mode: "0600", Size: 5, SHA256: hexSum("xxxxx")},
		{Path: "c", Type: "file", Mode: "0600", Size: 5, SHA256: hexSum("xxxxx")},
	}
	if !slices.Equal(p.Files, want) || p.FileCount != 2 || p.TotalBytes != 10 {
		t.Errorf("Files() = %+v, want %+v", p, want)
	}
}
