//go:build e2e

package e2e

import (
	"archive/tar"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// listAll lists every path below dir (for "nothing left behind").
func listAll(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestHostileTrees is the table of hostile trees and arguments: each case
// asserts the exit code, that the message names the culprit, and that no
// output (nor staging) is left. The real binary runs, as root unless the
// case needs an unprivileged user (root reads every file).
func TestHostileTrees(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644)
	os.MkdirAll(filepath.Join(outside, "dir"), 0o755)

	type tc struct {
		name   string
		setup  func(t *testing.T, src string) // src holds index.html already
		args   []string                       // after "build src --git=false"
		code   int
		want   []string // substrings of stderr
		asUser bool     // run as uid 65534
	}
	cases := []tc{
		{name: "absolute symlink", setup: func(t *testing.T, src string) { os.Symlink("/etc/passwd", filepath.Join(src, "abs")) },
			code: 2, want: []string{`"src/abs"`, "outside the source directory", "/etc/passwd"}},
		{name: "relative symlink escaping", setup: func(t *testing.T, src string) { os.Symlink("../../../../etc/hosts", filepath.Join(src, "rel")) },
			code: 2, want: []string{`"src/rel"`, "outside"}},
		{name: "symlink to a directory outside", setup: func(t *testing.T, src string) { os.Symlink(filepath.Join(outside, "dir"), filepath.Join(src, "d")) },
			code: 2, want: []string{`"src/d"`, "outside"}},
		{name: "dangling symlink", setup: func(t *testing.T, src string) { os.Symlink("missing.html", filepath.Join(src, "dangling")) },
			code: 2, want: []string{`"src/dangling"`, "does not exist"}},
		{name: "symlink loop with --symlinks follow", setup: func(t *testing.T, src string) {
			os.MkdirAll(filepath.Join(src, "a"), 0o755)
			os.Symlink("..", filepath.Join(src, "a", "up"))
		}, args: []string{"--symlinks", "follow"}, code: 2, want: []string{`"src/a/up"`, "symlink loop"}},
		{name: "FIFO", setup: func(t *testing.T, src string) { syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644) },
			code: 2, want: []string{`"src/pipe"`, "FIFO"}},
		{name: "Unix socket", setup: func(t *testing.T, src string) {
			l, err := net.Listen("unix", filepath.Join(src, "sock"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, code: 2, want: []string{`"src/sock"`, "socket"}},
		{name: "device node", setup: func(t *testing.T, src string) {
			if err := syscall.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Skipf("cannot create a device node here: %v", err)
			}
		}, code: 2, want: []string{`"src/null"`, "character device"}},
		{name: "unreadable file", asUser: true, setup: func(t *testing.T, src string) {
			os.WriteFile(filepath.Join(src, "locked.txt"), []byte("x"), 0)
		}, code: 2, want: []string{`"src/locked.txt"`, "permission denied"}},
		{name: "unreadable directory", asUser: true, setup: func(t *testing.T, src string) {
			os.MkdirAll(filepath.Join(src, "private"), 0)
		}, code: 2, want: []string{`"src/private"`, "permission denied"}},
		{name: "prefix escaping", args: []string{"--prefix", "../x"}, code: 2, want: []string{`"../x"`}},
		{name: "invalid .assetignore", setup: func(t *testing.T, src string) {
			os.WriteFile(filepath.Join(src, ".assetignore"), []byte("# ok\n*.md\n[broken\n"), 0o644)
		}, code: 2, want: []string{".assetignore", "line 3", "[broken"}},
		{name: "negative epoch", args: []string{"--source-date-epoch", "-5"}, code: 2, want: []string{`"-5"`}},
		{name: "non-numeric epoch", args: []string{"--source-date-epoch", "soon"}, code: 2, want: []string{`"soon"`}},
		{name: "epoch beyond 9999-12-31", args: []string{"--source-date-epoch", "999999999999"}, code: 2, want: []string{"9999-12-31"}},
		{name: "output exists and is not ours", setup: func(t *testing.T, src string) {
			os.MkdirAll(filepath.Join(filepath.Dir(src), "mine"), 0o755)
			os.WriteFile(filepath.Join(filepath.Dir(src), "mine", "keep"), []byte("x"), 0o644)
		}, args: []string{"-o", "oci:mine"}, code: 2, want: []string{`"mine"`, "not an OCI image layout"}},
		{name: "malformed assetpack.yaml", setup: func(t *testing.T, src string) {
			os.WriteFile(filepath.Join(filepath.Dir(src), "assetpack.yaml"), []byte("source: ./src\nprefix: site\nplatfroms: [linux/arm64]\n"), 0o644)
		}, args: []string{"--config", "assetpack.yaml"}, code: 2, want: []string{"assetpack.yaml:3:", "platfroms", "unknown key"}},
		{name: "empty directory", setup: func(t *testing.T, src string) { os.Remove(filepath.Join(src, "index.html")) },
			code: 2, want: []string{`"src"`, "no files to pack"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work, err := os.MkdirTemp("", "assetpack-hostile-")
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				filepath.Walk(work, func(p string, _ os.FileInfo, _ error) error { os.Chmod(p, 0o755); return nil })
				os.RemoveAll(work)
			}()
			os.Chmod(work, 0o777)
			src := filepath.Join(work, "src")
			os.MkdirAll(src, 0o755)
			os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>x</h1>"), 0o644)
			if c.setup != nil {
				c.setup(t, src)
			}
			before := listAll(work)
			argv := append([]string{bin, "build", "src", "--git=false"}, c.args...)
			if c.asUser && os.Geteuid() == 0 {
				argv = append([]string{tool(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, argv...)
			}
			r := runEnv(t, work, nil, "", argv[0], argv[1:]...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if after := listAll(work); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the failed build changed the work dir:\n%s", strings.Join(after, "\n"))
			}
		})
	}
}

// TestHostileButValid: shapes that must work and stay reproducible.
func TestHostileButValid(t *testing.T) {
	work := t.TempDir()

	t.Run("odd names and 4 KiB paths", func(t *testing.T) {
		src := filepath.Join(work, "names")
		os.MkdirAll(src, 0o755)
		names := []string{"new\nline.txt", `back\slash.txt`, "bad-\xff\xfe-utf8.txt", "-leading-dash.txt", strings.Repeat("n", 255), " spaced .txt"}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		deep := src
		for i := 0; i < 16; i++ {
			deep = filepath.Join(deep, strings.Repeat("d", 250))
		}
		os.MkdirAll(deep, 0o755)
		os.WriteFile(filepath.Join(deep, "f"), []byte("deep"), 0o644)
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-o", "oci:names-out")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		got := map[string]bool{}
		for _, e := range layerHeaders(t, filepath.Join(work, "names-out")) {
			got[e.Name] = true
		}
		for _, n := range names {
			if !got[n] {
				t.Errorf("entry %q missing", n)
			}
		}
		if rel, _ := filepath.Rel(src, filepath.Join(deep, "f")); !got[rel] || len(rel) < 4000 {
			t.Errorf("the %d-byte path is missing", len(rel))
		}
	})

	t.Run("depth 500", func(t *testing.T) {
		src := filepath.Join(work, "deep")
		p := src
		for i := 0; i < 500; i++ {
			p = filepath.Join(p, "d")
		}
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "bottom.txt"), []byte("bottom"), 0o644)
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-o", "oci:deep-out")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if n := len(layerHeaders(t, filepath.Join(work, "deep-out"))); n != 501 {
			t.Errorf("%d entries, want 500 directories and the file", n)
		}
	})

	t.Run("100000 empty files", func(t *testing.T) {
		src := filepath.Join(work, "many")
		for i := 0; i < 100000; i++ {
			d := filepath.Join(src, string(rune('a'+i%26)), string(rune('a'+i/26%26)))
			if i < 676 {
				os.MkdirAll(d, 0o755)
			}
			f, err := os.Create(filepath.Join(d, "f"+strings.Repeat("0", 6-len(itoa(i)))+itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		start := time.Now()
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-o", "tar:many.tar", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, `"files": 100000`) {
			t.Errorf("JSON = %s", r.stdout)
		}
		t.Logf("100000 empty files built in %v", time.Since(start))
	})

	t.Run("10 GiB sparse file", func(t *testing.T) {
		src := filepath.Join(work, "sparse")
		os.MkdirAll(src, 0o755)
		f, _ := os.Create(filepath.Join(src, "weights.bin"))
		if err := f.Truncate(10 << 30); err != nil {
			t.Skipf("cannot create a sparse file here: %v", err)
		}
		f.Close()
		r := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "--compression", "zstd", "-o", "oci:sparse-out")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		// The blocks the output holds, not the file system's free space,
		// which other processes on the machine change while this runs.
		used := allocated(t, filepath.Join(work, "sparse-out"))
		if used > 1<<30 {
			t.Errorf("building a 10 GiB sparse file used %d MiB of disk", used>>20)
		}
		hs := layerHeaders(t, filepath.Join(work, "sparse-out"))
		if len(hs) != 1 || hs[0].Size != 10<<30 {
			t.Fatalf("headers = %+v", hs)
		}
	})
}

// allocated is the disk space (allocated blocks) of the files below dir.
func allocated(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// layerHeaders reads the tar headers of the only image's only layer in a
// layout, without reading file bodies it does not need.
func layerHeaders(t *testing.T, dir string) []*tar.Header {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	ii, _ := p.ImageIndex()
	im, _ := ii.IndexManifest()
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		out = append(out, h)
		if h.Size > 1<<30 {
			return out // do not decompress 10 GiB of zeros to count entries
		}
	}
}
