package builder_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/image-spec/schema"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/hooks"
)

func TestLayerIsNormalised(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	os.Chmod(filepath.Join(dir, "index.html"), 0o600)
	res := build(t, dir)
	entries := layerEntries(t, res)

	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 with empty names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: mtime %v, want the source date epoch", h.Name, h.ModTime)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.Devmajor != 0 || h.Devminor != 0 || len(h.Xattrs) != 0 {
			t.Errorf("%s: atime/ctime/devices/xattrs set: %+v", h.Name, h)
		}
		for k := range h.PAXRecords {
			if k != "path" && k != "linkpath" {
				t.Errorf("%s: unexpected PAX record %q", h.Name, k)
			}
		}
		want := map[byte]int64{tar.TypeDir: 0o755, tar.TypeSymlink: 0o777, tar.TypeReg: 0o644}[h.Typeflag]
		if h.Name == "bin/run.sh" {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	if !sort.StringsAreSorted(trimSlashes(names)) {
		t.Errorf("entries not in bytewise order: %q", names)
	}
	wantNames := []string{
		"bin/", "bin/run.sh", "copy/", "copy/a.txt", "copy/b.txt", "css/", "css/site.css", "css/up.html",
		"deep/", "deep/a-very-long-directory-name-that-goes-on-and-on-and-on-and-on/",
		"deep/a-very-long-directory-name-that-goes-on-and-on-and-on-and-on/and-a-file-name-that-is-also-quite-long-to-pass-the-ustar-limit.txt",
		"données/", "données/été.txt", "empty/", "index.html", "js/", "js/app.js", "js/vendor/", "js/vendor/lib.js", "latest.html",
	}
	if strings.Join(names, "\n") != strings.Join(wantNames, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}
	for _, e := range entries {
		switch e.hdr.Name {
		case "css/up.html":
			if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "../index.html" {
				t.Errorf("css/up.html = %c -> %q, want symlink to ../index.html", e.hdr.Typeflag, e.hdr.Linkname)
			}
		case "copy/b.txt":
			if e.hdr.Typeflag != tar.TypeReg || e.body != "same bytes\n" {
				t.Errorf("copy/b.txt must be a regular file with its content, got %c %q", e.hdr.Typeflag, e.body)
			}
		}
	}
	if res.Files != 11 {
		t.Errorf("Files = %d, want 11", res.Files)
	}
}

func trimSlashes(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, "/")
	}
	return out
}

func TestImageContract(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	res := build(t, dir, builder.WithLabels(map[string]string{"team": "web"}),
		builder.WithAnnotations(map[string]string{"org.opencontainers.image.version": "v42"}))
	img := res.Image
	if img == nil || res.Index != nil {
		t.Fatal("one platform must give a single manifest")
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image() = %v", err)
	}
	rawManifest, _ := img.RawManifest()
	rawConfig, _ := img.RawConfigFile()
	if err := schema.ValidatorMediaTypeManifest.Validate(bytes.NewReader(rawManifest)); err != nil {
		t.Errorf("manifest fails the image-spec schema: %v", err)
	}
	if err := schema.ValidatorMediaTypeImageConfig.Validate(bytes.NewReader(rawConfig)); err != nil {
		t.Errorf("config fails the image-spec schema: %v", err)
	}
	var m map[string]any
	json.Unmarshal(rawManifest, &m)
	if m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest mediaType = %v", m["mediaType"])
	}
	if _, ok := m["artifactType"]; ok {
		t.Error("manifest has artifactType: runtimes would treat it as an artifact")
	}
	cfgDesc := m["config"].(map[string]any)
	if cfgDesc["mediaType"] != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("config mediaType = %v", cfgDesc["mediaType"])
	}
	layer := m["layers"].([]any)[0].(map[string]any)
	if layer["mediaType"] != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("layer mediaType = %v", layer["mediaType"])
	}
	ann := m["annotations"].(map[string]any)
	if ann["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" || ann["org.opencontainers.image.version"] != "v42" {
		t.Errorf("annotations = %v", ann)
	}

	var cfg map[string]any
	json.Unmarshal(rawConfig, &cfg)
	if cfg["os"] != "linux" || cfg["architecture"] != "amd64" || cfg["created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("config = %s", rawConfig)
	}
	for _, k := range []string{"history", "author"} {
		if _, ok := cfg[k]; ok {
			t.Errorf("config has %q: %s", k, rawConfig)
		}
	}
	c := cfg["config"].(map[string]any)
	for _, k := range []string{"Entrypoint", "Cmd", "Env", "User", "WorkingDir"} {
		if _, ok := c[k]; ok {
			t.Errorf("config.config has %q", k)
		}
	}
	if c["Labels"].(map[string]any)["team"] != "web" {
		t.Errorf("labels = %v", c["Labels"])
	}
	rootfs := cfg["rootfs"].(map[string]any)
	diff, _ := res.Layers[0].DiffID()
	if rootfs["type"] != "layers" || rootfs["diff_ids"].([]any)[0] != diff.String() {
		t.Errorf("rootfs = %v, want layers with %s", rootfs, diff)
	}
}

func TestPlatformsIndex(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	ps, err := builder.ParsePlatforms([]string{"linux/amd64,linux/arm64", "linux/arm/v7"})
	if err != nil {
		t.Fatal(err)
	}
	res := build(t, dir, builder.WithPlatforms(ps...))
	if res.Index == nil || res.Image != nil {
		t.Fatal("three platforms must give an index")
	}
	if err := validate.Index(res.Index); err != nil {
		t.Fatalf("validate.Index() = %v", err)
	}
	raw, _ := res.Index.RawManifest()
	if err := schema.ValidatorMediaTypeImageIndex.Validate(bytes.NewReader(raw)); err != nil {
		t.Errorf("index fails the image-spec schema: %v", err)
	}
	im, _ := res.Index.IndexManifest()
	if len(im.Manifests) != 3 {
		t.Fatalf("index has %d manifests, want 3", len(im.Manifests))
	}
	layerDigest, _ := res.Layers[0].Digest()
	for i, d := range im.Manifests {
		if d.Platform == nil || d.Platform.String() != ps[i].String() {
			t.Errorf("manifest %d platform = %v, want %v", i, d.Platform, ps[i])
		}
		img, err := res.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != ps[i].Architecture || cf.Variant != ps[i].Variant || cf.OS != "linux" {
			t.Errorf("config %d platform = %s/%s/%s, want %v", i, cf.OS, cf.Architecture, cf.Variant, ps[i])
		}
		ls, _ := img.Layers()
		if got, _ := ls[0].Digest(); len(ls) != 1 || got != layerDigest {
			t.Errorf("manifest %d does not share the layer blob %s", i, layerDigest)
		}
		rawM, _ := img.RawManifest()
		if err := schema.ValidatorMediaTypeManifest.Validate(bytes.NewReader(rawM)); err != nil {
			t.Errorf("manifest %d fails the image-spec schema: %v", i, err)
		}
	}
	single := build(t, dir, builder.WithPlatforms(v1.Platform{OS: "linux", Architecture: "arm64"}))
	cf, _ := single.Image.ConfigFile()
	if cf.Architecture != "arm64" {
		t.Errorf("single arm64 image architecture = %q", cf.Architecture)
	}
}

func TestPrefix(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, []treeFile{{path: "index.html", body: "x"}, {path: "a/b.css", body: "y"}})
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"/", []string{"a/", "a/b.css", "index.html"}},
		{"", []string{"a/", "a/b.css", "index.html"}},
		{"site", []string{"site/", "site/a/", "site/a/b.css", "site/index.html"}},
		{"/usr/share/site/", []string{"usr/", "usr/share/", "usr/share/site/", "usr/share/site/a/", "usr/share/site/a/b.css", "usr/share/site/index.html"}},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			var got []string
			for _, e := range layerEntries(t, build(t, dir, builder.WithPrefix(tc.prefix))) {
				got = append(got, e.hdr.Name)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("entries = %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"../x", "site/../../x", "..", "a/.."} {
		_, err := builder.Build(context.Background(), dir, builder.WithPrefix(bad))
		if !errors.Is(err, builder.ErrInvalidOption) || !errors.Is(err, builder.ErrBadInput) || !strings.Contains(err.Error(), bad) {
			t.Errorf("prefix %q: err = %v, want an invalid-option error naming it", bad, err)
		}
	}
}

func TestIgnore(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, []treeFile{
		{path: "index.html", body: "x"},
		{path: "notes.md", body: "x"},
		{path: "drafts/a.html", body: "x"},
		{path: "img/big.psd", body: "x"},
		{path: "img/logo.png", body: "x"},
		{path: ".git/HEAD", body: "ref: refs/heads/main\n"},
		{path: "sub/.git", body: "gitdir: ../x\n"},
		{path: ".assetignore", body: "# comment\n\n*.md\n/drafts/\n**/*.psd\n"},
	})
	res := build(t, dir, builder.WithExcludes("img/logo.png"))
	var got []string
	for _, e := range layerEntries(t, res) {
		got = append(got, e.hdr.Name)
	}
	want := []string{"img/", "index.html", "sub/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("entries = %q, want %q", got, want)
	}

	os.WriteFile(filepath.Join(dir, ".assetignore"), []byte("ok\n[unclosed\n"), 0o644)
	_, err := builder.Build(context.Background(), dir)
	if !errors.Is(err, builder.ErrInvalidIgnore) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), ".assetignore") {
		t.Errorf("invalid .assetignore: err = %v, want ErrInvalidIgnore naming the file and line 2", err)
	}
	os.Remove(filepath.Join(dir, ".assetignore"))
	_, err = builder.Build(context.Background(), dir, builder.WithExcludes("a[b"))
	if !errors.Is(err, builder.ErrInvalidIgnore) || !strings.Contains(err.Error(), "a[b") {
		t.Errorf("invalid --exclude: err = %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside\n"), 0o644)
	os.Mkdir(filepath.Join(outside, "dir"), 0o755)
	os.WriteFile(filepath.Join(outside, "dir", "f"), []byte("in dir\n"), 0o644)

	tests := []struct {
		name   string
		link   string // target of "site/l"
		follow bool
		want   error
		check  func(t *testing.T, es []tarEntry)
	}{
		{name: "absolute", link: filepath.Join(outside, "secret"), want: builder.ErrSymlinkEscape},
		{name: "relative escape", link: "../../" + filepath.Base(outside) + "/secret", want: builder.ErrSymlinkEscape},
		{name: "escape via parent", link: "..", want: builder.ErrSymlinkEscape},
		{name: "dangling", link: "missing.html", want: builder.ErrSymlinkDangling},
		{name: "self loop", link: "l", want: builder.ErrSymlinkLoop},
		{name: "inside dir", link: "sub", check: func(t *testing.T, es []tarEntry) {
			if !hasEntry(es, "l", tar.TypeSymlink, "") {
				t.Errorf("link to a directory inside must stay a link")
			}
		}},
		{name: "follow absolute file", link: filepath.Join(outside, "secret"), follow: true, check: func(t *testing.T, es []tarEntry) {
			if !hasEntry(es, "l", tar.TypeReg, "outside\n") {
				t.Errorf("--symlinks follow must store the target's content")
			}
		}},
		{name: "follow outside dir", link: filepath.Join(outside, "dir"), follow: true, check: func(t *testing.T, es []tarEntry) {
			if !hasEntry(es, "l/", tar.TypeDir, "") || !hasEntry(es, "l/f", tar.TypeReg, "in dir\n") {
				t.Errorf("--symlinks follow must store the target directory")
			}
		}},
		{name: "follow loop", link: ".", follow: true, want: builder.ErrSymlinkLoop},
		{name: "follow dangling", link: "nope", follow: true, want: builder.ErrSymlinkDangling},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "site")
			writeTree(t, dir, []treeFile{{path: "index.html", body: "x"}, {path: "sub/a", body: "a"}, {path: "l", link: tc.link}})
			opts := []builder.Option{builder.WithGit(false)}
			if tc.follow {
				opts = append(opts, builder.WithSymlinks(builder.SymlinksFollow))
			}
			res, err := builder.Build(context.Background(), dir, opts...)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, builder.ErrBadInput) {
					t.Fatalf("Build() = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), filepath.Join(dir, "l")) {
					t.Errorf("error %q does not name the link", err)
				}
				if !tc.follow && tc.want == builder.ErrSymlinkEscape && !strings.Contains(err.Error(), tc.link) {
					t.Errorf("error %q does not name the target", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			defer res.Close()
			tc.check(t, layerEntries(t, res))
		})
	}
}

func hasEntry(es []tarEntry, name string, typ byte, body string) bool {
	for _, e := range es {
		if e.hdr.Name == name && e.hdr.Typeflag == typ && e.body == body {
			return true
		}
	}
	return false
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	empty := filepath.Join(tmp, "empty")
	os.MkdirAll(filepath.Join(empty, "only-dirs", ".git"), 0o755)

	for _, tc := range []struct {
		name string
		dir  string
		want error
	}{
		{"missing", filepath.Join(tmp, "nope"), builder.ErrNotExist},
		{"file", file, builder.ErrNotDirectory},
		{"empty", empty, builder.ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := builder.Build(ctx, tc.dir, builder.WithGit(false))
			if !errors.Is(err, tc.want) || !errors.Is(err, builder.ErrBadInput) || !strings.Contains(err.Error(), tc.dir) {
				t.Errorf("Build(%q) = %v, want %v naming the path", tc.dir, err, tc.want)
			}
		})
	}
	res, err := builder.Build(ctx, empty, builder.WithGit(false), builder.WithAllowEmpty(true))
	if err != nil {
		t.Fatalf("Build(empty, WithAllowEmpty) = %v", err)
	}
	res.Close()

	special := filepath.Join(tmp, "special")
	os.Mkdir(special, 0o755)
	os.WriteFile(filepath.Join(special, "ok"), []byte("x"), 0o644)
	fifo := filepath.Join(special, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = builder.Build(ctx, special, builder.WithGit(false))
	if !errors.Is(err, builder.ErrUnsupportedFile) || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("FIFO: err = %v", err)
	}
	os.Remove(fifo)
	sock := filepath.Join(special, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = builder.Build(ctx, special, builder.WithGit(false))
	l.Close()
	os.Remove(sock)
	if !errors.Is(err, builder.ErrUnsupportedFile) || !strings.Contains(err.Error(), "socket") {
		t.Errorf("socket: err = %v", err)
	}
	dev := filepath.Join(special, "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
		t.Logf("device node case not run: mknod needs privileges here: %v", err)
	} else {
		_, err = builder.Build(ctx, special, builder.WithGit(false))
		if !errors.Is(err, builder.ErrUnsupportedFile) || !strings.Contains(err.Error(), "device") {
			t.Errorf("device: err = %v", err)
		}
		os.Remove(dev)
	}

	if os.Geteuid() != 0 {
		unreadable := filepath.Join(special, "locked")
		os.WriteFile(unreadable, []byte("x"), 0o000)
		_, err = builder.Build(ctx, special, builder.WithGit(false))
		if !errors.Is(err, builder.ErrUnreadable) || !strings.Contains(err.Error(), unreadable) {
			t.Errorf("unreadable: err = %v", err)
		}
	}
}

func TestParseSourceDateEpoch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1700000000", 1700000000, true}, {" 42 ", 42, true},
		{"253402300799", 253402300799, true},
		{"253402300800", 0, false}, {"-1", 0, false}, {"abc", 0, false}, {"1.5", 0, false}, {"", 0, false},
	} {
		got, err := builder.ParseSourceDateEpoch("SOURCE_DATE_EPOCH", tc.in)
		if tc.ok != (err == nil) || (tc.ok && got.Unix() != tc.want) {
			t.Errorf("ParseSourceDateEpoch(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && (!errors.Is(err, builder.ErrBadInput) || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH")) {
			t.Errorf("ParseSourceDateEpoch(%q) error %q must name the variable", tc.in, err)
		}
	}
}

func TestSkipPaths(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, []treeFile{{path: "index.html", body: "x"}, {path: "out/keep.txt", body: "k"},
		{path: "assetpack-out/site/index.json", body: "{}"}, {path: "out/img.tar", body: "tar"}})
	res := build(t, dir, builder.WithHooks(hooks.Build{SkipPaths: []string{filepath.Join(dir, "assetpack-out", "site"), filepath.Join(dir, "out", "img.tar")}}))
	var got []string
	for _, e := range layerEntries(t, res) {
		got = append(got, e.hdr.Name)
	}
	if want := "index.html out/ out/keep.txt"; strings.Join(got, " ") != want {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestAutoCompression(t *testing.T) {
	weights := t.TempDir()
	r := bytes.NewBuffer(nil)
	x := uint32(1)
	for r.Len() < 3<<20 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		r.WriteByte(byte(x))
	}
	os.WriteFile(filepath.Join(weights, "model.bin"), r.Bytes(), 0o644)
	os.WriteFile(filepath.Join(weights, "config.json"), []byte(`{"hidden": 64}`), 0o644)
	res := build(t, weights, builder.WithCompression(builder.Auto))
	if mt, _ := res.Layers[0].MediaType(); res.Compression != builder.None || mt != builder.MediaTypeLayerTar {
		t.Errorf("auto on random weights chose %s (%s), want none", res.Compression, mt)
	}
	again := build(t, weights, builder.WithCompression(builder.Auto))
	plain := build(t, weights, builder.WithCompression(builder.None))
	if again.Digest != res.Digest || plain.Digest != res.Digest {
		t.Errorf("auto is not deterministic or differs from none: %s %s %s", res.Digest, again.Digest, plain.Digest)
	}

	site := t.TempDir()
	writeTree(t, site, siteTree)
	os.WriteFile(filepath.Join(site, "big.html"), bytes.Repeat([]byte("<p>compressible text</p>\n"), 100000), 0o644)
	if res := build(t, site, builder.WithCompression(builder.Auto)); res.Compression != builder.Gzip {
		t.Errorf("auto on text chose %s, want gzip", res.Compression)
	}
	small := t.TempDir()
	writeTree(t, small, siteTree)
	if res := build(t, small, builder.WithCompression(builder.Auto)); res.Compression != builder.Gzip {
		t.Errorf("auto without large files chose %s, want gzip", res.Compression)
	}
}
