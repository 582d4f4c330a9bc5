package rootfs_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// ent is one tar entry of a hand-made layer.
type ent struct {
	name string
	typ  byte
	body string // content of a file; target of a link
	mode int64
}

func file(name, body string) ent { return ent{name: name, typ: tar.TypeReg, body: body, mode: 0o644} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, body: target, mode: 0o777}
}
func hardlink(name, target string) ent { return ent{name: name, typ: tar.TypeLink, body: target} }

func layer(t *testing.T, entries ...ent) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
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

func image(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func f(p, body string, layer int) rootfs.Entry {
	return rootfs.Entry{Path: p, Type: rootfs.File, Mode: 0o644, Size: int64(len(body)), SHA256: sha(body), Layer: layer}
}

func d(p string, layer int) rootfs.Entry {
	return rootfs.Entry{Path: p, Type: rootfs.Dir, Mode: 0o755, Layer: layer}
}

func TestImage(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]ent
		want   []rootfs.Entry
	}{{
		name:   "names are cleaned",
		layers: [][]ent{{dir("./"), dir("./a/"), file("./a/x", "x"), file("/b", "b"), file("c/../../d", "d")}},
		want:   []rootfs.Entry{d("a", 0), f("a/x", "x", 0), f("b", "b", 0), f("d", "d", 0)},
	}, {
		name:   "a later layer replaces a file",
		layers: [][]ent{{file("a", "old"), file("b", "b")}, {file("a", "new")}},
		want:   []rootfs.Entry{f("a", "new", 1), f("b", "b", 0)},
	}, {
		name:   "whiteout deletes a file of a lower layer",
		layers: [][]ent{{file("a", "a"), file("b", "b")}, {file(".wh.a", "")}},
		want:   []rootfs.Entry{f("b", "b", 0)},
	}, {
		name:   "whiteout deletes a directory and its contents",
		layers: [][]ent{{dir("d"), file("d/x", "x"), dir("d/e"), file("d/e/y", "y"), file("dd", "dd")}, {file(".wh.d", "")}},
		want:   []rootfs.Entry{f("dd", "dd", 0)},
	}, {
		name:   "whiteout in a subdirectory",
		layers: [][]ent{{dir("d"), file("d/x", "x"), file("d/y", "y")}, {dir("d"), file("d/.wh.x", "")}},
		want:   []rootfs.Entry{d("d", 1), f("d/y", "y", 0)},
	}, {
		name:   "whiteout does not hide the same layer's file",
		layers: [][]ent{{file("a", "old")}, {file(".wh.a", ""), file("a", "new")}},
		want:   []rootfs.Entry{f("a", "new", 1)},
	}, {
		name: "opaque directory hides lower contents only",
		layers: [][]ent{
			{dir("d"), file("d/x", "x"), dir("d/e"), file("d/e/y", "y"), file("other", "o")},
			{dir("d"), file("d/.wh..wh..opq", ""), file("d/z", "z")},
		},
		want: []rootfs.Entry{d("d", 1), f("d/z", "z", 1), f("other", "o", 0)},
	}, {
		name:   "opaque root",
		layers: [][]ent{{file("a", "a"), dir("d"), file("d/x", "x")}, {file(".wh..wh..opq", ""), file("b", "b")}},
		want:   []rootfs.Entry{f("b", "b", 1)},
	}, {
		name:   "aufs metadata is not listed",
		layers: [][]ent{{dir(".wh..wh.plnk"), file("a", "a")}},
		want:   []rootfs.Entry{f("a", "a", 0)},
	}, {
		name:   "a file over a directory hides its children",
		layers: [][]ent{{dir("d"), file("d/x", "x")}, {file("d", "now a file")}},
		want:   []rootfs.Entry{f("d", "now a file", 1)},
	}, {
		name:   "a directory over a file replaces it",
		layers: [][]ent{{file("d", "a file")}, {file("d/x", "x")}},
		want:   []rootfs.Entry{f("d/x", "x", 1)},
	}, {
		name:   "a symlink",
		layers: [][]ent{{file("a", "a"), symlink("l", "a")}},
		want:   []rootfs.Entry{f("a", "a", 0), {Path: "l", Type: rootfs.Symlink, Mode: 0o777, Target: "a"}},
	}, {
		name:   "hard link in the same layer",
		layers: [][]ent{{file("a", "body"), hardlink("b", "a")}},
		want:   []rootfs.Entry{f("a", "body", 0), withLink(f("b", "body", 0), "a")},
	}, {
		name:   "hard link to a lower layer",
		layers: [][]ent{{dir("d"), file("d/a", "body")}, {hardlink("./e", "./d/a")}},
		want:   []rootfs.Entry{d("d", 0), f("d/a", "body", 0), withLink(f("e", "body", 1), "d/a")},
	}, {
		name:   "hard link keeps the content it was made with",
		layers: [][]ent{{file("a", "old"), hardlink("b", "a")}, {file("a", "new")}},
		want:   []rootfs.Entry{f("a", "new", 1), withLink(f("b", "old", 0), "a")},
	}, {
		name:   "whiteout of a hard link's target keeps the link",
		layers: [][]ent{{file("a", "body"), hardlink("b", "a")}, {file(".wh.a", "")}},
		want:   []rootfs.Entry{withLink(f("b", "body", 0), "a")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, es := range tt.layers {
				ls = append(ls, layer(t, es...))
			}
			got, err := rootfs.Image(image(t, ls...), rootfs.Options{})
			if err != nil {
				t.Fatalf("Image() = %v", err)
			}
			for i := range got { // checked by TestContent
				got[i].ModTime, got[i].Content = time.Time{}, rootfs.Pos{}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Image() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func withLink(e rootfs.Entry, target string) rootfs.Entry {
	e.HardLink = target
	return e
}

func TestSHA1(t *testing.T) {
	got, err := rootfs.Image(image(t, layer(t, file("a", "abc"), hardlink("b", "a"))), rootfs.Options{SHA1: true})
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	sum := sha1.Sum([]byte("abc"))
	want := hex.EncodeToString(sum[:])
	if len(got) != 2 || got[0].SHA1 != want || got[1].SHA1 != want {
		t.Errorf("SHA1 = %+v, want %s for both", got, want)
	}
	got, _ = rootfs.Image(image(t, layer(t, file("a", "abc"))), rootfs.Options{})
	if got[0].SHA1 != "" {
		t.Errorf("SHA1 without Options.SHA1 = %q, want none", got[0].SHA1)
	}
}

func TestBrokenHardLink(t *testing.T) {
	for name, l := range map[string][]ent{
		"missing":      {hardlink("b", "nothing")},
		"to directory": {dir("d"), hardlink("b", "d")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rootfs.Image(image(t, layer(t, l...)), rootfs.Options{})
			if !errors.Is(err, rootfs.ErrHardLink) || !strings.Contains(err.Error(), `hard link "b"`) || !strings.Contains(err.Error(), "reading layer 1 (sha256:") {
				t.Errorf("Image() = %v, want an error naming the link and the layer", err)
			}
		})
	}
}

// TestContent: every file says which regular-file header holds its bytes
// and carries that header's time; a hard link has its target's.
func TestContent(t *testing.T) {
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	l0 := timedLayer(t, []ent{dir("d"), file("d/a", "old"), hardlink("b", "d/a")}, t0)
	l1 := timedLayer(t, []ent{file("d/a", "new"), hardlink("c", "b"), hardlink("e", "d/a")}, t1)
	got, err := rootfs.Image(image(t, l0, l1), rootfs.Options{})
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	want := map[string]struct {
		at   rootfs.Pos
		time time.Time
	}{
		"d":   {rootfs.Pos{}, t0},
		"d/a": {rootfs.Pos{Layer: 1, Index: 0}, t1},
		"b":   {rootfs.Pos{Layer: 0, Index: 1}, t0},
		"c":   {rootfs.Pos{Layer: 0, Index: 1}, t0}, // a link to a link: the bytes of d/a as layer 0 had it
		"e":   {rootfs.Pos{Layer: 1, Index: 0}, t1},
	}
	if len(got) != len(want) {
		t.Fatalf("Image() = %+v", got)
	}
	for _, e := range got {
		w := want[e.Path]
		if e.Content != w.at || !e.ModTime.Equal(w.time) {
			t.Errorf("%s: Content %+v ModTime %v, want %+v %v", e.Path, e.Content, e.ModTime, w.at, w.time)
		}
	}
}

func timedLayer(t *testing.T, entries []ent, mtime time.Time) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: mtime, Linkname: e.body}
		if e.typ == tar.TypeReg {
			h.Size, h.Linkname = int64(len(e.body)), ""
		}
		tw.WriteHeader(h)
		if e.typ == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestVisit: Visit sees every header once, in order, with the bytes of
// regular files, and the hashes are those of every byte whatever Visit read.
func TestVisit(t *testing.T) {
	l := layer(t, dir("./"), file(".wh.gone", ""), dir("d"), file("d/a", "hello"), symlink("l", "d/a"), hardlink("h", "d/a"))
	var seen []string
	got, err := rootfs.Image(image(t, l), rootfs.Options{Visit: func(at rootfs.Pos, h *tar.Header, r io.Reader) error {
		if at.Layer != 0 || at.Index != len(seen) {
			t.Errorf("Visit at %+v for header %d", at, len(seen))
		}
		s := h.Name
		if r != nil {
			b := make([]byte, 2) // read part of it only
			n, _ := io.ReadFull(r, b)
			s += "=" + string(b[:n])
		}
		seen = append(seen, s)
		return nil
	}})
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if want := []string{"./", ".wh.gone=", "d", "d/a=he", "l", "h"}; !slices.Equal(seen, want) {
		t.Errorf("visited %q, want %q", seen, want)
	}
	for _, e := range got {
		if e.Path == "d/a" && (e.SHA256 != sha("hello") || e.Size != 5) {
			t.Errorf("d/a hashed to %s (%d bytes), want the hash of every byte", e.SHA256, e.Size)
		}
	}
	stop := errors.New("stop here")
	_, err = rootfs.Image(image(t, l), rootfs.Options{Visit: func(_ rootfs.Pos, h *tar.Header, _ io.Reader) error {
		if h.Name == "d/a" {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "reading layer 1") {
		t.Errorf("Image() with a failing Visit = %v, want its error with the layer", err)
	}
}

// TestReadsLayerToEnd: the layer is read past the end-of-archive marker and
// closed, so that a reader that verifies digests at EOF or on Close can fail
// the read.
func TestReadsLayerToEnd(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	b := append(buf.Bytes(), make([]byte, 8192)...) // padding after the marker
	bad := errors.New("digest mismatch at EOF")
	for name, rc := range map[string]func() io.ReadCloser{
		"error at EOF": func() io.ReadCloser {
			return io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{bad}))
		},
		"error on Close": func() io.ReadCloser { return closeErr{bytes.NewReader(b), bad} },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rootfs.Read([]v1.Layer{uncompressedOnly{layer(t, file("a", "")), rc}}, rootfs.Options{})
			if !errors.Is(err, bad) {
				t.Errorf("Read() = %v, want %v", err, bad)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type closeErr struct {
	io.Reader
	err error
}

func (c closeErr) Close() error { return c.err }

// uncompressedOnly serves Uncompressed from rc, as a verifying layer does.
type uncompressedOnly struct {
	v1.Layer
	rc func() io.ReadCloser
}

func (u uncompressedOnly) Uncompressed() (io.ReadCloser, error) { return u.rc(), nil }
