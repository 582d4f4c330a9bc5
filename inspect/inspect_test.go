package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assetpack/assetpack/builder"
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

// wantFiles is the file list of nodes under prefix, computed from the
// nodes themselves (one layer).
func wantFiles(prefix string, nodes []node) []File {
	var out []File
	for _, n := range nodes {
		full := strings.TrimPrefix(prefix+"/"+n.path, "/")
		switch {
		case n.link != "":
			out = append(out, File{Path: full, Type: "symlink", Mode: "0777", LinkTarget: n.link})
		case n.exec:
			out = append(out, File{Path: full, Type: "file", Mode: "0755", Size: int64(len(n.body)), SHA256: sha(n.body)})
		default:
			out = append(out, File{Path: full, Type: "file", Mode: "0644", Size: int64(len(n.body)), SHA256: sha(n.body)})
		}
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// wantLayers describes res's layers from the builder's own accounting.
// wantLayers describes res's layers; with files, each lists the files the
// builder put in it (the plan), as Describe reads it back.
func wantLayers(t *testing.T, res *builder.Result, files bool) []Layer {
	t.Helper()
	var out []Layer
	for _, l := range res.Layers {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		dl := Layer{Digest: d.String(), DiffID: diff.String(), Size: size, MediaType: string(mt)}
		for _, f := range l.Files() {
			if files {
				dl.Files = append(dl.Files, f.Path)
			}
		}
		out = append(out, dl)
	}
	return out
}

func checkFiles(t *testing.T, got *Files, want []File) {
	t.Helper()
	if got == nil {
		t.Fatal("Files = nil, want a file list")
	}
	gotFiles := slices.Clone(got.Files)
	for i := range gotFiles {
		gotFiles[i].Layer = 0 // layers are checked by TestDescribeLayers
	}
	if !reflect.DeepEqual(gotFiles, want) {
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
					Layers:      wantLayers(t, res, files),
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
			Layers:      wantLayers(t, res, i == 0), // the files of the first image
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
	if got, want := r.Manifests[0].Layers, wantLayers(t, res, true); !reflect.DeepEqual(got, want) {
		t.Errorf("Layers =\n%+v\nwant\n%+v", got, want)
	}
	for _, l := range r.Manifests[0].Layers {
		// Uncompressed: the blob is the tar, so digest and diffID agree.
		if l.Digest != l.DiffID || l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
			t.Errorf("layer %+v: want an uncompressed tar whose digest is its diffID", l)
		}
	}
	checkFiles(t, r.Files, wantFiles("", nodes))
	// Each file names its layer: the one whose tar holds it.
	layers := map[int]bool{}
	for _, f := range r.Files.Files {
		layers[f.Layer] = true
		if f.Layer < 0 || f.Layer >= len(res.Layers) {
			t.Errorf("%s is in layer %d of %d", f.Path, f.Layer, len(res.Layers))
		}
	}
	if len(layers) != len(res.Layers) {
		t.Errorf("the files name %d layers of %d", len(layers), len(res.Layers))
	}
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
	file := func(p, body, mode string) File {
		return File{Path: p, Type: "file", Mode: mode, Size: int64(len(body)), SHA256: sha(body)}
	}
	link := func(p, target string) File {
		return File{Path: p, Type: "symlink", Mode: "0777", LinkTarget: target}
	}
	list := func(es ...File) *Files { return &Files{Files: es} }

	for _, tc := range []struct {
		name string
		a, b *Files
		want []Change
	}{
		{"both empty", list(), list(), nil},
		{"identical", list(file("site/a", "a", "0644")), list(file("site/a", "a", "0644")), nil},
		{"another layer", list(file("site/a", "a", "0644")), list(File{Path: "site/a", Type: "file", Mode: "0644", Size: 1, SHA256: sha("a"), Layer: 3}), nil},
		{"added", list(file("a", "a", "0644")), list(file("a", "a", "0644"), file("b", "b", "0644")),
			[]Change{{Path: "b", Kind: "added"}}},
		{"removed", list(file("a", "a", "0644"), link("d", "a")), list(file("a", "a", "0644")),
			[]Change{{Path: "d", Kind: "removed"}}},
		{"content", list(file("a", "old", "0644")), list(file("a", "new", "0644")),
			[]Change{{Path: "a", Kind: "changed", What: []string{"content"}}}},
		{"size only", list(File{Path: "a", Type: "file", Mode: "0644", Size: 1, SHA256: sha("a")}),
			list(File{Path: "a", Type: "file", Mode: "0644", Size: 2, SHA256: sha("a")}),
			[]Change{{Path: "a", Kind: "changed", What: []string{"content"}}}},
		{"mode", list(file("run.sh", "x", "0644")), list(file("run.sh", "x", "0755")),
			[]Change{{Path: "run.sh", Kind: "changed", What: []string{"mode"}}}},
		{"content and mode", list(file("run.sh", "x", "0644")), list(file("run.sh", "y", "0755")),
			[]Change{{Path: "run.sh", Kind: "changed", What: []string{"content", "mode"}}}},
		{"link target", list(link("latest", "v1.html")), list(link("latest", "v2.html")),
			[]Change{{Path: "latest", Kind: "changed", What: []string{"link"}}}},
		{"file to symlink", list(file("home", "x", "0644")), list(link("home", "index.html")),
			[]Change{{Path: "home", Kind: "changed", What: []string{"type", "content", "mode", "link"}}}},
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
	var lists [2]*Files
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
	bundle := "application/vnd.dev.sigstore.bundle.v0.3+json"
	typed := func(found, where, pt string) Referrer {
		return Referrer{ArtifactType: bundle, Found: found, Where: where, Annotations: map[string]string{"dev.sigstore.bundle.predicateType": pt}}
	}
	for _, tc := range []struct {
		name                               string
		refs                               []Referrer
		signed, attested, sbom, provenance bool
		kinds                              map[string]string // by Where+Found
	}{
		{"none", nil, false, false, false, false, nil},
		{"bundle signature", []Referrer{typed("tag schema", "i", "https://sigstore.dev/cosign/sign/v1")}, true, false, false, false,
			map[string]string{"itag schema": "signature"}},
		{"SPDX SBOM", []Referrer{typed("referrers API", "a", "https://spdx.dev/Document")}, false, true, true, false,
			map[string]string{"areferrers API": "SPDX SBOM"}},
		{"CycloneDX SBOM and provenance", []Referrer{typed("referrers API", "a", "https://cyclonedx.org/bom"), typed("referrers API", "b", "https://slsa.dev/provenance/v1")},
			false, true, true, true, map[string]string{"areferrers API": "CycloneDX SBOM", "breferrers API": "SLSA provenance v1"}},
		{"another attestation", []Referrer{typed("tag schema", "o", "https://example.com/v1")}, false, true, false, false,
			map[string]string{"otag schema": "attestation"}},
		{"legacy", []Referrer{{ArtifactType: "application/vnd.dsse.envelope.v1+json", Found: "legacy tag", Where: "r/x:sha256-ab.att", PredicateType: "https://slsa.dev/provenance/v1"},
			{ArtifactType: "application/vnd.dev.cosign.simplesigning.v1+json", Found: "legacy tag", Where: "r/x:sha256-ab.sig"}}, true, true, false, true,
			map[string]string{"r/x:sha256-ab.attlegacy tag": "SLSA provenance v1", "r/x:sha256-ab.siglegacy tag": "signature"}},
		{"another artifact", []Referrer{{ArtifactType: "application/vnd.example.report+json", Found: "tag schema", Where: "x"}}, false, false, false, false,
			map[string]string{"xtag schema": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			r.AddReferrers(tc.refs)
			if *r.Signed != tc.signed || *r.Attested != tc.attested {
				t.Errorf("signed %v attested %v, want %v %v", *r.Signed, *r.Attested, tc.signed, tc.attested)
			}
			for _, ref := range r.Referrers {
				if ref.Kind != tc.kinds[ref.Where+ref.Found] {
					t.Errorf("%+v: kind %q, want %q", ref, ref.Kind, tc.kinds[ref.Where+ref.Found])
				}
			}
			if *r.SBOM != tc.sbom || *r.Provenance != tc.provenance {
				t.Errorf("sbom %v provenance %v, want %v %v", *r.SBOM, *r.Provenance, tc.sbom, tc.provenance)
			}
			for i := 1; i < len(r.Referrers); i++ {
				if r.Referrers[i-1].ArtifactType > r.Referrers[i].ArtifactType {
					t.Errorf("not sorted by artifact type: %+v", r.Referrers)
				}
			}
		})
	}
}

// TestLayerPlan: for a model split by LayersModel, each layer lists the
// files it holds, and each file names that layer.
func TestLayerPlan(t *testing.T) {
	nodes := append([]node{{path: "config.json", body: "{}"}, {path: "a.safetensors", body: "aaaa"},
		{path: "b.safetensors", body: "bbbb"}, {path: "README.md", body: "# m\n"}}, site...)
	res := build(t, writeTree(t, nodes), builder.WithLayers(builder.LayersModel), builder.WithPrefix("m"))
	r, err := Describe("m", res.Image, true)
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	for _, f := range r.Files.Files {
		if !slices.Contains(r.Manifests[0].Layers[f.Layer].Files, f.Path) {
			t.Errorf("%s names layer %d, whose files are %q", f.Path, f.Layer, r.Manifests[0].Layers[f.Layer].Files)
		}
	}
	var plan []string
	for _, l := range r.Manifests[0].Layers {
		plan = append(plan, strings.Join(l.Files, " "))
	}
	wantPlan := []string{"m/config.json m/css/site.css m/index.html m/latest.html", "m/README.md", "m/bin/run.sh", "m/a.safetensors", "m/b.safetensors"}
	if !reflect.DeepEqual(plan, wantPlan) {
		t.Errorf("plan = %q, want %q", plan, wantPlan)
	}
}

// TestListFilesOfLayers: an image not built by assetpack, whose second
// layer deletes a file with a whiteout, replaces another and adds a hard
// link, lists what a runtime mounts, each file with the layer that holds
// it.
func TestListFilesOfLayers(t *testing.T) {
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
		layer(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}, &tar.Header{Name: "b", Typeflag: tar.TypeReg, Mode: 0o600, Size: 5},
			&tar.Header{Name: "d", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}),
		layer(&tar.Header{Name: ".wh.a", Typeflag: tar.TypeReg}, &tar.Header{Name: "c", Typeflag: tar.TypeLink, Linkname: "b"},
			&tar.Header{Name: "d", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 2}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ListFiles(img)
	if err != nil {
		t.Fatalf("ListFiles() = %v", err)
	}
	want := []File{
		{Path: "b", Type: "file", Mode: "0600", Size: 5, SHA256: sha("xxxxx")},
		{Path: "c", Type: "file", Mode: "0600", Size: 5, SHA256: sha("xxxxx"), HardLink: "b", Layer: 1},
		{Path: "d", Type: "file", Mode: "4755", Size: 2, SHA256: sha("xx"), Layer: 1},
	}
	if !reflect.DeepEqual(got.Files, want) || got.FileCount != 3 || got.TotalBytes != 12 {
		t.Errorf("ListFiles() = %+v, want %+v", got, want)
	}
}

func TestUnder(t *testing.T) {
	files := func(paths ...string) *Files {
		p := &Files{}
		for _, s := range paths {
			p.Files = append(p.Files, File{Path: s, Type: "file"})
		}
		return p
	}
	root := files("css/x.css", "index.html")
	site := files("site/css/x.css", "site/index.html")
	deep := files("a/b/css/x.css", "a/b/index.html")
	for _, tc := range []struct {
		name string
		a, b *Files
		want string
	}{
		{"under site", root, site, "site"},
		{"under a/b", root, deep, "a/b"},
		{"the other way", site, root, ""},
		{"a file missing", files("index.html", "gone.txt"), site, ""},
		{"same place", root, root, ""},
		{"no files", files(), site, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Under(tc.a, tc.b); got != tc.want {
				t.Errorf("Under() = %q, want %q", got, tc.want)
			}
		})
	}
}
