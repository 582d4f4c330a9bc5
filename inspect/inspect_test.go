package inspect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/sign"
)

// epoch is the build time of every test image, and created its RFC 3339 form.
var (
	epoch   = time.Unix(1700000000, 0)
	created = "2023-11-14T22:13:20Z"
)

// node is one path of a test tree.
type node struct {
	path string
	body string
	exec bool
	link string // a symlink to this target
}

// site is a small tree: nesting, an exec bit and a symlink.
var site = []node{
	{path: "index.html", body: "<h1>home</h1>\n"},
	{path: "css/site.css", body: "body { margin: 0 }\n"},
	{path: "bin/run.sh", body: "#!/bin/sh\necho hi\n", exec: true},
	{path: "latest.html", link: "index.html"},
}

// writeTree creates the nodes in a new directory.
func writeTree(t *testing.T, nodes []node) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range nodes {
		p := filepath.Join(dir, filepath.FromSlash(n.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case n.link != "":
			err = os.Symlink(n.link, p)
		case n.exec:
			err = os.WriteFile(p, []byte(n.body), 0o755)
		default:
			err = os.WriteFile(p, []byte(n.body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func build(t *testing.T, dir string, opts ...builder.Option) *builder.Result {
	t.Helper()
	opts = append([]builder.Option{builder.WithGit(false), builder.WithSourceDateEpoch(epoch)}, opts...)
	res, err := builder.Build(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// wantFiles is the file list of nodes under prefix, with every directory,
// computed from the nodes themselves.
func wantFiles(prefix string, nodes []node) []sign.FileEntry {
	seen := map[string]bool{}
	var out []sign.FileEntry
	dir := func(p string) {
		if p != "" && p != "." && !seen[p] {
			seen[p] = true
			out = append(out, sign.FileEntry{Path: p, Type: "dir", Mode: "0755"})
		}
	}
	for _, n := range nodes {
		full := strings.TrimPrefix(prefix+"/"+n.path, "/")
		parts := strings.Split(full, "/")
		for i := 1; i < len(parts); i++ {
			dir(strings.Join(parts[:i], "/"))
		}
		switch {
		case n.link != "":
			out = append(out, sign.FileEntry{Path: full, Type: "symlink", Mode: "0777", LinkTarget: n.link})
		case n.exec:
			out = append(out, sign.FileEntry{Path: full, Type: "file", Mode: "0755", Size: int64(len(n.body)), SHA256: sha(n.body)})
		default:
			out = append(out, sign.FileEntry{Path: full, Type: "file", Mode: "0644", Size: int64(len(n.body)), SHA256: sha(n.body)})
		}
	}
	slices.SortFunc(out, func(a, b sign.FileEntry) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// wantLayers describes res's layers from the builder's own accounting.
func wantLayers(t *testing.T, res *builder.Result) []Layer {
	t.Helper()
	var out []Layer
	for _, l := range res.Layers {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		out = append(out, Layer{Digest: d.String(), DiffID: diff.String(), Size: size, MediaType: string(mt)})
	}
	return out
}

func checkFiles(t *testing.T, got *sign.FilesPredicate, want []sign.FileEntry) {
	t.Helper()
	if got == nil {
		t.Fatal("Files = nil, want a file list")
	}
	if !reflect.DeepEqual(got.Files, want) {
		t.Errorf("Files:\n got %+v\nwant %+v", got.Files, want)
	}
	n, bytes := 0, int64(0)
	for _, e := range want {
		if e.Type == "file" {
			n++
			bytes += e.Size
		}
	}
	if got.FileCount != n || got.TotalBytes != bytes {
		t.Errorf("FileCount, TotalBytes = %d, %d; want %d, %d", got.FileCount, got.TotalBytes, n, bytes)
	}
}

func TestDescribeImage(t *testing.T) {
	labels := map[string]string{"org.opencontainers.image.title": "site"}
	res := build(t, writeTree(t, site), builder.WithPrefix("site"), builder.WithCompression(builder.Zstd),
		builder.WithLabels(labels),
		builder.WithAnnotations(map[string]string{"com.example.team": "web"}))
	annotations := map[string]string{"org.opencontainers.image.created": created, "com.example.team": "web"}

	for _, files := range []bool{true, false} {
		t.Run(fmt.Sprintf("files=%v", files), func(t *testing.T) {
			r, err := Describe("oci:out@"+res.Digest.String(), res.Image, files)
			if err != nil {
				t.Fatalf("Describe() = %v", err)
			}
			want := &Report{
				Reference:   "oci:out@" + res.Digest.String(),
				Digest:      res.Digest.String(),
				MediaType:   "application/vnd.oci.image.manifest.v1+json",
				Size:        res.Size,
				Annotations: annotations,
				Manifests: []Manifest{{
					Digest:      res.Digest.String(),
					Platform:    "linux/amd64",
					Created:     created,
					Annotations: annotations,
					Labels:      labels,
					Layers:      wantLayers(t, res),
				}},
			}
			got := *r
			got.Files = nil
			if !reflect.DeepEqual(&got, want) {
				t.Errorf("Describe() =\n%+v\nwant\n%+v", &got, want)
			}
			if want := "application/vnd.oci.image.layer.v1.tar+zstd"; r.Manifests[0].Layers[0].MediaType != want {
				t.Errorf("layer media type = %s, want %s", r.Manifests[0].Layers[0].MediaType, want)
			}
			if !files {
				if r.Files != nil {
					t.Errorf("Files = %+v, want nil without files", r.Files)
				}
				return
			}
			checkFiles(t, r.Files, wantFiles("site", site))
		})
	}
}

func TestDescribeIndex(t *testing.T) {
	ps, err := builder.ParsePlatforms([]string{"linux/amd64,linux/arm64/v8"})
	if err != nil {
		t.Fatal(err)
	}
	res := build(t, writeTree(t, site), builder.WithPlatforms(ps...),
		builder.WithAnnotations(map[string]string{"com.example.team": "web"}))
	if res.Index == nil {
		t.Fatal("Build() with two platforms returned no index")
	}
	annotations := map[string]string{"org.opencontainers.image.created": created, "com.example.team": "web"}

	// The manifests' digests, read from the raw index JSON.
	raw, err := res.Index.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index = %s (%v), want two manifests", raw, err)
	}

	r, err := Describe("site", res.Index, true)
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	var manifests []Manifest
	for i, p := range []string{"linux/amd64", "linux/arm64/v8"} {
		manifests = append(manifests, Manifest{
			Digest:      idx.Manifests[i].Digest,
			Platform:    p,
			Created:     created,
			Annotations: annotations,
			Layers:      wantLayers(t, res),
		})
	}
	want := &Report{
		Reference:   "site",
		Digest:      res.Digest.String(),
		MediaType:   "application/vnd.oci.image.index.v1+json",
		Size:        int64(len(raw)),
		Annotations: annotations,
		Manifests:   manifests,
	}
	got := *r
	got.Files = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("Describe() =\n%+v\nwant\n%+v", &got, want)
	}
	if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != r.Digest {
		t.Errorf("Digest = %s, want the sha256 of the index", r.Digest)
	}
	// The files are those of the first manifest (the same layers).
	checkFiles(t, r.Files, wantFiles("", site))
}

// TestDescribeLayers describes an image of several layers: they are listed
// in the manifest's order with the matching diffIDs, and every path is
// listed once although each layer repeats its parent directories.
func TestDescribeLayers(t *testing.T) {
	var nodes []node
	for i := range 24 {
		// 512 KiB each, 12 MiB in all: LayersAuto cuts groups of about 4 MiB.
		nodes = append(nodes, node{path: fmt.Sprintf("data/part-%02d.bin", i), body: strings.Repeat(fmt.Sprintf("%02d", i), 256<<10)})
	}
	nodes = append(nodes, node{path: "index.html", body: "<h1>data</h1>\n"})
	res := build(t, writeTree(t, nodes), builder.WithCompression(builder.None))
	if len(res.Layers) < 2 {
		t.Fatalf("Build() made %d layer(s); the test needs several", len(res.Layers))
	}
	r, err := Describe("data", res.Image, true)
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	if got, want := r.Manifests[0].Layers, wantLayers(t, res); !reflect.DeepEqual(got, want) {
		t.Errorf("Layers =\n%+v\nwant\n%+v", got, want)
	}
	for _, l := range r.Manifests[0].Layers {
		// Uncompressed: the blob is the tar, so digest and diffID agree.
		if l.Digest != l.DiffID || l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
			t.Errorf("layer %+v: want an uncompressed tar whose digest is its diffID", l)
		}
	}
	checkFiles(t, r.Files, wantFiles("", nodes))
}

func TestDescribeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		art  any
		want string
	}{
		{"nil", nil, "cannot inspect <nil>"},
		{"string", "ghcr.io/acme/site:v1", "cannot inspect string"},
		{"descriptor", v1.Descriptor{}, "cannot inspect v1.Descriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Describe("x", tc.art, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Describe(%v) = %+v, %v; want an error containing %q", tc.art, r, err, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	file := func(p, body, mode string) sign.FileEntry {
		return sign.FileEntry{Path: p, Type: "file", Mode: mode, Size: int64(len(body)), SHA256: sha(body)}
	}
	link := func(p, target string) sign.FileEntry {
		return sign.FileEntry{Path: p, Type: "symlink", Mode: "0777", LinkTarget: target}
	}
	dir := func(p, mode string) sign.FileEntry { return sign.FileEntry{Path: p, Type: "dir", Mode: mode} }
	list := func(es ...sign.FileEntry) *sign.FilesPredicate { return &sign.FilesPredicate{Files: es} }

	for _, tc := range []struct {
		name string
		a, b *sign.FilesPredicate
		want []Change
	}{
		{"both empty", list(), list(), nil},
		{"identical", list(dir("site", "0755"), file("site/a", "a", "0644")), list(dir("site", "0755"), file("site/a", "a", "0644")), nil},
		{"added", list(file("a", "a", "0644")), list(file("a", "a", "0644"), file("b", "b", "0644")),
			[]Change{{Path: "b", Kind: "added"}}},
		{"removed", list(file("a", "a", "0644"), dir("d", "0755")), list(file("a", "a", "0644")),
			[]Change{{Path: "d", Kind: "removed"}}},
		{"content", list(file("a", "old", "0644")), list(file("a", "new", "0644")),
			[]Change{{Path: "a", Kind: "changed", What: []string{"content"}}}},
		{"size only", list(sign.FileEntry{Path: "a", Type: "file", Mode: "0644", Size: 1, SHA256: sha("a")}),
			list(sign.FileEntry{Path: "a", Type: "file", Mode: "0644", Size: 2, SHA256: sha("a")}),
			[]Change{{Path: "a", Kind: "changed", What: []string{"content"}}}},
		{"mode", list(file("run.sh", "x", "0644")), list(file("run.sh", "x", "0755")),
			[]Change{{Path: "run.sh", Kind: "changed", What: []string{"mode"}}}},
		{"content and mode", list(file("run.sh", "x", "0644")), list(file("run.sh", "y", "0755")),
			[]Change{{Path: "run.sh", Kind: "changed", What: []string{"content", "mode"}}}},
		{"link target", list(link("latest", "v1.html")), list(link("latest", "v2.html")),
			[]Change{{Path: "latest", Kind: "changed", What: []string{"link"}}}},
		{"file to symlink", list(file("home", "x", "0644")), list(link("home", "index.html")),
			[]Change{{Path: "home", Kind: "changed", What: []string{"type", "content", "mode", "link"}}}},
		{"dir to file", list(dir("d", "0755")), list(file("d", "", "0755")),
			// An empty file and a directory have the same size (0) but not the same sha256 field.
			[]Change{{Path: "d", Kind: "changed", What: []string{"type", "content"}}}},
		{"sorted across both lists", list(file("m", "1", "0644"), file("z", "1", "0644"), file("b", "1", "0644")),
			list(file("a", "1", "0644"), file("z", "2", "0644"), file("m", "1", "0644")),
			[]Change{{Path: "a", Kind: "added"}, {Path: "b", Kind: "removed"}, {Path: "z", Kind: "changed", What: []string{"content"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.a, tc.b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff() = %+v, want %+v", got, tc.want)
			}
			// Swapping the sides swaps added and removed.
			var swapped []Change
			for _, c := range tc.want {
				switch c.Kind {
				case "added":
					c.Kind = "removed"
				case "removed":
					c.Kind = "added"
				}
				swapped = append(swapped, c)
			}
			if got := Diff(tc.b, tc.a); !reflect.DeepEqual(got, swapped) {
				t.Errorf("Diff(b, a) = %+v, want %+v", got, swapped)
			}
		})
	}
}

// TestDiffBuilds compares the file lists Describe reads from two real
// builds of trees that differ in known ways.
func TestDiffBuilds(t *testing.T) {
	b := []node{
		{path: "index.html", body: "<h1>home, v2</h1>\n"},    // content
		{path: "css/site.css", body: "body { margin: 0 }\n"}, // unchanged
		{path: "bin/run.sh", body: "#!/bin/sh\necho hi\n"},   // exec bit dropped
		{path: "latest.html", link: "css/site.css"},          // link target
		{path: "js/app.js", body: "console.log(1)\n"},        // added (with its directory)
	}
	ra := build(t, writeTree(t, site), builder.WithPrefix("site"))
	rb := build(t, writeTree(t, b), builder.WithPrefix("site"))
	var lists [2]*sign.FilesPredicate
	for i, res := range []*builder.Result{ra, rb} {
		r, err := Describe("", res.Artifact(), true)
		if err != nil {
			t.Fatalf("Describe() = %v", err)
		}
		lists[i] = r.Files
	}
	want := []Change{
		{Path: "site/bin/run.sh", Kind: "changed", What: []string{"mode"}},
		{Path: "site/index.html", Kind: "changed", What: []string{"content"}},
		{Path: "site/js", Kind: "added"},
		{Path: "site/js/app.js", Kind: "added"},
		{Path: "site/latest.html", Kind: "changed", What: []string{"link"}},
	}
	if got := Diff(lists[0], lists[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("Diff() = %+v, want %+v", got, want)
	}
	if got := Diff(lists[0], lists[0]); got != nil {
		t.Errorf("Diff(a, a) = %+v, want nil", got)
	}
	// Same files, other options: no file changes though the digests differ.
	rc := build(t, writeTree(t, site), builder.WithPrefix("site"), builder.WithCompression(builder.Zstd))
	r, err := Describe("", rc.Image, true)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Digest == ra.Digest {
		t.Fatalf("zstd and gzip builds share the digest %s", ra.Digest)
	}
	if got := Diff(lists[0], r.Files); got != nil {
		t.Errorf("Diff(gzip build, zstd build) = %+v, want nil", got)
	}
}

// TestDescribeIndexOfOne describes an index with a single manifest and no
// annotations of its own (as crane index append makes): the report's
// annotations are the index's, none, not those of its one manifest.
func TestDescribeIndexOfOne(t *testing.T) {
	res := build(t, writeTree(t, site))
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        res.Image,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	})
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Describe("one", idx, false)
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	if r.Digest != d.String() || r.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("Describe() = %s %s, want the index %s", r.MediaType, r.Digest, d)
	}
	if r.Annotations != nil {
		t.Errorf("Annotations = %v, want none (the index has none)", r.Annotations)
	}
	if len(r.Manifests) != 1 || r.Manifests[0].Digest != res.Digest.String() || !reflect.DeepEqual(r.Manifests[0].Annotations, res.Annotations) {
		t.Errorf("Manifests = %+v, want the image %s with annotations %v", r.Manifests, res.Digest, res.Annotations)
	}
}

// TestAddReferrers: signatures and attestations are told apart by what a
// bundle says it signs, or by the legacy tag; the list is by artifact type.
func TestAddReferrers(t *testing.T) {
	for _, tc := range []struct {
		name             string
		refs             []Referrer
		signed, attested bool
	}{
		{"none", nil, false, false},
		{"bundle signature", []Referrer{{ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json", Found: "tag schema",
			Annotations: map[string]string{"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}}}, true, false},
		{"bundle attestation", []Referrer{{ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json", Found: "referrers API",
			Annotations: map[string]string{"dev.sigstore.bundle.predicateType": "https://spdx.dev/Document"}}}, false, true},
		{"legacy", []Referrer{{ArtifactType: "application/vnd.dsse.envelope.v1+json", Found: "legacy tag", Where: "r/x:sha256-ab.att"},
			{ArtifactType: "application/vnd.dev.cosign.simplesigning.v1+json", Found: "legacy tag", Where: "r/x:sha256-ab.sig"}}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			r.AddReferrers(tc.refs)
			if *r.Signed != tc.signed || *r.Attested != tc.attested {
				t.Errorf("signed %v attested %v, want %v %v", *r.Signed, *r.Attested, tc.signed, tc.attested)
			}
			for i := 1; i < len(r.Referrers); i++ {
				if r.Referrers[i-1].ArtifactType > r.Referrers[i].ArtifactType {
					t.Errorf("not sorted by artifact type: %+v", r.Referrers)
				}
			}
		})
	}
}

func TestUnder(t *testing.T) {
	files := func(paths ...string) *sign.FilesPredicate {
		p := &sign.FilesPredicate{}
		for _, s := range paths {
			typ := "file"
			if strings.HasSuffix(s, "/") {
				typ, s = "dir", strings.TrimSuffix(s, "/")
			}
			p.Files = append(p.Files, sign.FileEntry{Path: s, Type: typ})
		}
		return p
	}
	root := files("css/", "css/x.css", "index.html")
	site := files("site/", "site/css/", "site/css/x.css", "site/index.html")
	deep := files("a/", "a/b/", "a/b/css/", "a/b/css/x.css", "a/b/index.html")
	for _, tc := range []struct {
		name string
		a, b *sign.FilesPredicate
		want string
	}{
		{"under site", root, site, "site"},
		{"under a/b", root, deep, "a/b"},
		{"the other way", site, root, ""},
		{"a file missing", files("index.html", "gone.txt"), site, ""},
		{"same place", root, root, ""},
		{"no files", files("empty/"), site, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Under(tc.a, tc.b); got != tc.want {
				t.Errorf("Under() = %q, want %q", got, tc.want)
			}
		})
	}
}
