package unpack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/unpack"
)

// hostileDir is a parent directory with a sentinel file and a directory
// beside the destination, which no layer may touch.
func hostileDir(t *testing.T) (parent, dst string) {
	t.Helper()
	parent = t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "sentinel"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(parent, "outside"), 0o755)
	return parent, filepath.Join(parent, "out")
}

func checkSentinel(t *testing.T, parent string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(parent, "sentinel")); err != nil || string(b) != "keep" {
		t.Errorf("the sentinel beside the destination = %q, %v; want it untouched", b, err)
	}
	if des, _ := os.ReadDir(filepath.Join(parent, "outside")); len(des) != 0 {
		t.Errorf("something was written into the directory beside the destination: %v", des)
	}
}

// lying is a layer whose manifest digest or config diff_id is not that of
// its bytes.
type lying struct {
	v1.Layer
	digest, diffID *v1.Hash
}

func (l lying) Digest() (v1.Hash, error) {
	if l.digest != nil {
		return *l.digest, nil
	}
	return l.Layer.Digest()
}

func (l lying) DiffID() (v1.Hash, error) {
	if l.diffID != nil {
		return *l.diffID, nil
	}
	return l.Layer.DiffID()
}

func fakeHash(s string) *v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return &v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// TestHostileLayers: every layer that would write outside the destination
// is refused with an error naming the entry, and nothing is written:
// neither the destination, nor a staging directory, nor anything beside.
func TestHostileLayers(t *testing.T) {
	good := []ent{dir("site"), file("site/index.html", "<h1>hi</h1>")}
	tests := []struct {
		name   string
		layers func(parent string) [][]ent
		img    func(t *testing.T) v1.Image // instead of layers
		is     error
		want   string
	}{{
		name:   "absolute path",
		layers: func(p string) [][]ent { return [][]ent{good, {file(filepath.Join(p, "sentinel"), "pwned")}} },
		is:     unpack.ErrUnsafe, want: `its name is absolute (layers name paths inside the image root)`,
	}, {
		name:   "dot-dot",
		layers: func(string) [][]ent { return [][]ent{{file("../sentinel", "pwned")}} },
		is:     unpack.ErrUnsafe, want: `unsafe entry "../sentinel": its name has a ".." component`,
	}, {
		name:   "dot-dot in the middle",
		layers: func(string) [][]ent { return [][]ent{{dir("a"), file("a/../../outside/x", "pwned")}} },
		is:     unpack.ErrUnsafe, want: `unsafe entry "a/../../outside/x"`,
	}, {
		name: "symlink to /etc then a file through it",
		layers: func(string) [][]ent {
			return [][]ent{{symlink("etc", "/etc"), file("etc/passwd", "root::0:0::/:/bin/sh\n")}}
		},
		is: unpack.ErrUnsafe, want: `unsafe symlink "etc": its target "/etc" is absolute, which points outside the destination`,
	}, {
		name:   "symlink out then a file through it",
		layers: func(string) [][]ent { return [][]ent{{symlink("up", "../outside"), file("up/x", "pwned")}} },
		is:     unpack.ErrUnsafe, want: `unsafe symlink "up": its target "../outside" leads outside the destination`,
	}, {
		name:   "file below a symlink that stays inside",
		layers: func(string) [][]ent { return [][]ent{{dir("d"), symlink("l", "d"), file("l/x", "x")}} },
		is:     unpack.ErrUnsafe, want: `unsafe entry "l/x": it is below "l", a symlink of layer 1: nothing is written through a symlink`,
	}, {
		name: "symlink chain out",
		layers: func(string) [][]ent {
			return [][]ent{{dir("d"), symlink("d/s", ".."), symlink("l", "d/s/../outside")}}
		},
		is: unpack.ErrUnsafe, want: `unsafe symlink "l": its target "d/s/../outside" leads outside the destination (through the symlink "d/s")`,
	}, {
		name:   "hard link to /etc/passwd",
		layers: func(string) [][]ent { return [][]ent{good, {hardlink("passwd", "/etc/passwd")}} },
		is:     unpack.ErrUnsafe, want: `unsafe hard link "passwd": its target "/etc/passwd" is absolute`,
	}, {
		name:   "hard link out",
		layers: func(string) [][]ent { return [][]ent{{hardlink("s", "../sentinel")}} },
		is:     unpack.ErrUnsafe, want: `unsafe hard link "s": its target "../sentinel" has a ".." component`,
	}, {
		name:   "hard link to a later entry",
		layers: func(string) [][]ent { return [][]ent{{hardlink("b", "a"), file("a", "x")}} },
		is:     unpack.ErrUnsafe, want: `hard link "b": its target "a" is not a regular file of this layer or an earlier one`,
	}, {
		name:   "hard link to a directory",
		layers: func(string) [][]ent { return [][]ent{{dir("d"), hardlink("b", "d")}} },
		is:     unpack.ErrUnsafe, want: `hard link "b": its target "d" is not a regular file`,
	}, {
		name:   "whiteout of a path outside",
		layers: func(string) [][]ent { return [][]ent{good, {file("../.wh.sentinel", "")}} },
		is:     unpack.ErrUnsafe, want: `unsafe whiteout "../.wh.sentinel"`,
	}, {
		name:   "absolute whiteout",
		layers: func(p string) [][]ent { return [][]ent{good, {file(filepath.Join(p, ".wh.sentinel"), "")}} },
		is:     unpack.ErrUnsafe, want: `its name is absolute (layers name paths inside the image root)`,
	}, {
		name: "layer digest does not match",
		img: func(t *testing.T) v1.Image {
			return image(t, layer(t, good...), lying{Layer: layer(t, file("x", "x")), digest: fakeHash("other")})
		},
		is: unpack.ErrDigestMismatch, want: "reading layer 2 (" + fakeHash("other").String() + "): digest mismatch: its bytes hash to sha256:",
	}, {
		name: "diff_id does not match",
		img: func(t *testing.T) v1.Image {
			return image(t, lying{Layer: layer(t, good...), diffID: fakeHash("other")})
		},
		is: unpack.ErrDigestMismatch, want: "digest mismatch: its uncompressed tar hashes to sha256:", // the config names fakeHash("other")
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dst := hostileDir(t)
			var img v1.Image
			if tt.img != nil {
				img = tt.img(t)
			} else {
				var ls []v1.Layer
				for _, es := range tt.layers(parent) {
					ls = append(ls, layer(t, es...))
				}
				img = image(t, ls...)
			}
			before := listDir(t, parent)
			for _, to := range []func() error{
				func() error { _, err := unpack.ToDir(context.Background(), img, dst); return err },
				func() error { _, err := unpack.ToTar(context.Background(), img, dst+".tar"); return err },
			} {
				err := to()
				if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v\nwant one matching %v and containing %q", err, tt.is, tt.want)
				}
				if after := listDir(t, parent); after != before {
					t.Errorf("files beside the destination changed:\n%s\nwant\n%s", after, before)
				}
				checkSentinel(t, parent)
			}
		})
	}
}

// TestFailureLeavesDestination: a destination that would be replaced is
// exactly as it was when the image turns out to be hostile or corrupt.
func TestFailureLeavesDestination(t *testing.T) {
	parent, dst := hostileDir(t)
	os.MkdirAll(filepath.Join(dst, "mine"), 0o755)
	os.WriteFile(filepath.Join(dst, "mine", "notes.txt"), []byte("mine"), 0o600)
	before := snapshot(t, parent)
	for _, img := range []v1.Image{
		image(t, layer(t, file("a", "a")), layer(t, file("../sentinel", "pwned"))),
		image(t, layer(t, file("a", "a")), lying{Layer: layer(t, file("b", "b")), digest: fakeHash("x")}),
	} {
		if _, err := unpack.ToDir(context.Background(), img, dst, unpack.WithReplace(true)); err == nil {
			t.Fatal("ToDir() succeeded, want an error")
		}
		compareTrees(t, snapshot(t, parent), before)
	}
}

// TestNeutralised: what is not refused but changed, each with a note.
func TestNeutralised(t *testing.T) {
	parent, dst := hostileDir(t)
	suid := exe("bin/su", "#!/bin/sh\n")
	suid.mode = 0o4755
	sgid := file("shared", "x")
	sgid.mode = 0o2644
	sticky := dir("tmp")
	sticky.mode = 0o1777
	owned := file("owned", "o")
	owned.uid = 1000
	img := image(t,
		layer(t, symlink("up", "../outside")), // replaced by a directory in the next layer
		layer(t, dir("bin"), suid, sgid, sticky, owned,
			ent{name: "dev/null", typ: '3', mode: 0o666, devmajor: 1},
			ent{name: "fifo", typ: '6', mode: 0o644},
			file("up/x", "inside"),
			file(".wh...", ""), // a whiteout of "..": names nothing
		))
	var notes []string
	res, err := unpack.ToDir(context.Background(), img, dst, unpack.WithNotes(func(s string) { notes = append(notes, s) }))
	if err != nil {
		t.Fatalf("ToDir() = %v", err)
	}
	checkSentinel(t, parent)
	got := snapshot(t, dst)
	want := map[string]node{
		"bin":    {mode: fsDir(0o755)},
		"bin/su": {mode: 0o755, data: sha("#!/bin/sh\n")},
		"shared": {mode: 0o644, data: sha("x")},
		"tmp":    {mode: fsDir(0o777)},
		"owned":  {mode: 0o644, data: sha("o")},
		"up":     {mode: fsDir(0o755)},
		"up/x":   {mode: 0o644, data: sha("inside")},
	}
	compareTrees(t, got, want)
	if res.Files != 4 || res.Dirs != 2 {
		t.Errorf("Result = %+v", res)
	}
	all := strings.Join(notes, "\n")
	for _, w := range []string{
		`cleared the setuid bit of "bin/su" (mode 4755 is written as 0755)`,
		`cleared the setgid bit of "shared"`,
		`cleared the sticky bit of "tmp"`,
		`skipped "dev/null": a character device is not a file`,
		`skipped "fifo": a FIFO is not a file`,
		"1 entries name an owner other than root",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("notes =\n%s\nwant one containing %q", all, w)
		}
	}
}
