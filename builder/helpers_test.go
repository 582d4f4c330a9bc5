package builder_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
)

// treeFile is one path of a test tree.
type treeFile struct {
	path string
	body string // content for files
	exec bool
	link string // symlink target
	dir  bool   // an (empty) directory
}

// siteTree is a small site with the shapes that matter: nesting, an exec
// bit, a symlink, an empty directory, a non-ASCII name, a long name and two
// files with equal content (hard-linked in some copies).
var siteTree = []treeFile{
	{path: "index.html", body: "<!doctype html><title>hi</title><link rel=stylesheet href=css/site.css>\n"},
	{path: "css/site.css", body: "body { margin: 0 }\n"},
	{path: "js/app.js", body: "console.log('hi')\n"},
	{path: "js/vendor/lib.js", body: "/* lib */\n"},
	{path: "bin/run.sh", body: "#!/bin/sh\necho hi\n", exec: true},
	{path: "copy/a.txt", body: "same bytes\n"},
	{path: "copy/b.txt", body: "same bytes\n"},
	{path: "latest.html", link: "index.html"},
	{path: "css/up.html", link: "../index.html"},
	{path: "empty", dir: true},
	{path: "données/été.txt", body: "ünïcödé\n"},
	{path: "deep/a-very-long-directory-name-that-goes-on-and-on-and-on-and-on/and-a-file-name-that-is-also-quite-long-to-pass-the-ustar-limit.txt", body: "long\n"},
}

// writeTree creates files in the order given.
func writeTree(t *testing.T, root string, files []treeFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.dir:
			if err := os.MkdirAll(p, 0o777); err != nil {
				t.Fatal(err)
			}
		case f.link != "":
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
		default:
			mode := os.FileMode(0o666)
			if f.exec {
				mode = 0o777
			}
			if err := os.WriteFile(p, []byte(f.body), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func build(t *testing.T, dir string, opts ...builder.Option) *builder.Result {
	t.Helper()
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(1700000000, 0))}, opts...)
	res, err := builder.Build(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("Build(%q) = %v", dir, err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

type tarEntry struct {
	hdr  *tar.Header
	body string
}

func layerEntries(t *testing.T, res *builder.Result) []tarEntry {
	t.Helper()
	if len(res.Layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(res.Layers))
	}
	rc, err := res.Layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []tarEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: h, body: string(b)})
	}
}

// deferred builds as a push-only pipeline does: uncompressed layers are
// hashed, not stored.
var deferred = builder.WithHooks(hooks.Build{Deferred: true})
