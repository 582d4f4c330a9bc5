package attest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assetpack/assetpack/builder"
)

// treeFile is one entry of a test tree: a file with a body and mode, or a
// symlink when link is set.
type treeFile struct {
	path string
	body string
	mode os.FileMode
	link string
}

// siteTree has odd names, an executable, an empty file, a symlink, and
// about 10 MiB of text in big/, so that the builder cuts it into several
// layers.
var siteTree = func() []treeFile {
	fs := []treeFile{
		{path: "index.html", body: "<h1>hello</h1>\n", mode: 0o644},
		{path: "css/site.css", body: "body{margin:0}\n", mode: 0o644},
		{path: "bin/run.sh", body: "#!/bin/sh\necho run\n", mode: 0o755},
		{path: "empty.txt", body: "", mode: 0o644},
		{path: "odd name ü & <x>.txt", body: "odd\n", mode: 0o644},
		{path: "docs/home.html", link: "../index.html"},
	}
	for i := range 40 {
		line := fmt.Sprintf("part %02d: %s\n", i, strings.Repeat("lorem ipsum dolor sit amet ", 3))
		fs = append(fs, treeFile{path: fmt.Sprintf("big/part%02d.txt", i), body: strings.Repeat(line, 256*1024/len(line)), mode: 0o644})
	}
	return fs
}()

func writeTree(t *testing.T, root string, files []treeFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.link != "" {
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
}

const epoch = 1700000000 // 2023-11-14T22:13:20Z

func build(t *testing.T, dir string, opts ...builder.Option) *builder.Result {
	t.Helper()
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(epoch, 0))}, opts...)
	res, err := builder.Build(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// wantFile is what the test expects of one file, computed from the tree on
// disk, independently of package attest.
type wantFile struct {
	sha256, sha1 string
	size         int64
	mode         string
	symlink      string
}

// onDisk hashes the regular files and symlinks under root with the
// standard library, keyed by their path in the image (prefix/…).
func onDisk(t *testing.T, root, prefix string) map[string]wantFile {
	t.Helper()
	out := map[string]wantFile{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(filepath.Join(prefix, rel))
		var content []byte
		w := wantFile{mode: "0644"}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			content, w.symlink, w.mode = []byte(target), target, "0777"
		} else {
			if content, err = os.ReadFile(p); err != nil {
				return err
			}
			if info.Mode()&0o100 != 0 {
				w.mode = "0755"
			}
		}
		s256, s1 := sha256.Sum256(content), sha1.Sum(content)
		w.sha256, w.sha1, w.size = hex.EncodeToString(s256[:]), hex.EncodeToString(s1[:]), int64(len(content))
		out[key] = w
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layerOf lists which layer (its diffID) holds each non-directory entry,
// read straight from the builder's layers.
func layerOf(t *testing.T, res *builder.Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range res.Layers {
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag != tar.TypeDir {
				out[strings.TrimPrefix(h.Name, "./")] = diffID.String()
			}
		}
		rc.Close()
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ent is one tar entry of a hand-made layer.
type ent struct {
	name string
	typ  byte
	body string // content of a file; target of a link
	mode int64
}

func file(name, body string) ent       { return ent{name: name, typ: tar.TypeReg, body: body, mode: 0o644} }
func dir(name string) ent              { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func hardlink(name, target string) ent { return ent{name: name, typ: tar.TypeLink, body: target} }

// layer writes a tar layer by hand, the way other image builders might.
func layer(t *testing.T, entries ...ent) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeLink:
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body[:h.Size])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// image stacks layers on an empty image.
func image(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
