//go:build e2e

// Package e2e runs the real assetpack binary and checks what it writes with
// third-party tools: umoci unpacks our layouts and skopeo reads layouts and
// archives. Run with `make e2e`, which installs the tools first.
package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "assetpack-e2e-bin-")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // runnable by the unprivileged user of TestUnreadable
	bin = filepath.Join(dir, "assetpack")
	// The release's pair: assetpack built with -tags lite, and beside it
	// assetpack-sigstore, the default build, which the lite one hands every
	// command that signs or verifies. So every test here that signs or
	// verifies goes through that hand-off. CGO_ENABLED=0 as in releases;
	// the GitHub Action test's build from source then reuses the same build
	// cache.
	for _, b := range [][]string{{"-tags", "lite", "-o", bin}, {"-o", filepath.Join(dir, "assetpack-sigstore")}} {
		cmd := exec.Command("go", append(append([]string{"build"}, b...), "../cmd/assetpack")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			panic("building " + b[len(b)-1] + ": " + err.Error())
		}
	}
	// Keep the build cache out of the user's cache directory.
	os.Setenv("ASSETPACK_CACHE_DIR", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run hack/install-e2e-tools.sh (make e2e does)", name)
	}
	return p
}

func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// makeSource writes a tree with the shapes that matter.
func makeSource(t testing.TB, root string) {
	t.Helper()
	files := map[string]string{
		"index.html":         "<!doctype html><h1>hi</h1>\n",
		"css/site.css":       "body{margin:0}\n",
		"js/app.js":          "console.log(1)\n",
		"données/été.txt":    "ünïcödé\n",
		"a/b/c/d/e/deep.txt": "deep\n",
		strings.Repeat("n", 120) + "/" + strings.Repeat("f", 150) + ".txt": "long names\n",
	}
	for p, body := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o700)
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "bin"), 0o700)
	os.WriteFile(filepath.Join(root, "bin", "run.sh"), []byte("#!/bin/sh\necho ok\n"), 0o700)
	os.MkdirAll(filepath.Join(root, "empty"), 0o700)
	os.Symlink("../index.html", filepath.Join(root, "css", "home.html"))
	os.Symlink("css", filepath.Join(root, "styles"))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	os.WriteFile(filepath.Join(root, "model.bin"), big, 0o644)
}

type node struct {
	mode os.FileMode
	data string // file bytes or link target
}

// snapshot describes a tree the way an image volume shows it.
func snapshot(t testing.TB, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		n := node{mode: info.Mode()}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			n.data, _ = os.Readlink(p)
			n.mode = os.ModeSymlink
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			n.data = hex.EncodeToString(sum[:])
		}
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// normalised is what we promise the image holds for a source snapshot:
// same names, bytes and links; dirs 0755, files 0644 or 0755.
func normalised(src map[string]node) map[string]node {
	out := map[string]node{}
	for p, n := range src {
		switch {
		case n.mode.IsDir():
			n.mode = os.ModeDir | 0o755
		case n.mode&os.ModeSymlink != 0:
		case n.mode&0o111 != 0:
			n.mode = 0o755
		default:
			n.mode = 0o644
		}
		out[p] = n
	}
	return out
}

func compareTrees(t testing.TB, got, want map[string]node) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("missing in unpacked image: %s", p)
			continue
		}
		if g != w {
			t.Errorf("%s: got mode %v data %.16s, want mode %v data %.16s", p, g.mode, g.data, w.mode, w.data)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("extra in unpacked image: %s", p)
		}
	}
}

func digestOf(t testing.TB, stdout string) string {
	t.Helper()
	i := strings.LastIndex(stdout, "@")
	if i < 0 || !strings.HasPrefix(stdout[i+1:], "sha256:") {
		t.Fatalf("stdout %q is not a digest reference", stdout)
	}
	return strings.TrimSpace(stdout[i+1:])
}

func TestUmociUnpacksSourceTree(t *testing.T) {
	umoci := tool(t, "umoci")
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	want := normalised(snapshot(t, src))

	// umoci 0.4 reads neither zstd layers nor an index with several
	// platforms: for those cases skopeo (containers/image) first converts
	// what we wrote into a single gzip image, which is a second independent
	// reader of our zstd stream and our index.
	for _, tc := range []struct {
		name    string
		args    []string
		sub     string
		convert []string // skopeo copy flags, nil: unpack directly
	}{
		{"root gzip", nil, "", nil},
		{"prefix zstd", []string{"--prefix", "site", "--compression", "zstd"}, "site", []string{"--dest-compress-format", "gzip"}},
		{"uncompressed", []string{"--compression", "none"}, "", nil},
		{"index", []string{"--platform", "linux/s390x,linux/" + runtime.GOARCH}, "", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			layout := filepath.Join(dir, "layout")
			args := append([]string{"build", src, "-o", "oci:" + layout, "--git=false"}, tc.args...)
			run(t, dir, bin, args...)
			ref := layout + ":latest"
			if tc.convert != nil {
				skopeo := tool(t, "skopeo")
				conv := filepath.Join(dir, "converted")
				run(t, dir, skopeo, append(append([]string{"copy"}, tc.convert...), "oci:"+ref, "oci:"+conv+":latest")...)
				ref = conv + ":latest"
			}
			bundle := filepath.Join(dir, "bundle")
			run(t, dir, umoci, "unpack", "--rootless", "--image", ref, bundle)
			rootfs := filepath.Join(bundle, "rootfs")
			got := snapshot(t, rootfs)
			if tc.sub != "" {
				if n := got[tc.sub]; n.mode != os.ModeDir|0o755 {
					t.Errorf("prefix dir %s: mode %v", tc.sub, n.mode)
				}
				got = snapshot(t, filepath.Join(rootfs, tc.sub))
			}
			compareTrees(t, got, want)
		})
	}
}

func TestSkopeoReadsLayoutAndArchive(t *testing.T) {
	skopeo := tool(t, "skopeo")
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)

	layoutOut := run(t, work, bin, "build", src, "-o", "oci:layout", "--git=false")
	archiveOut := run(t, work, bin, "build", src, "-o", "tar:site.tar", "--git=false")
	digest := digestOf(t, layoutOut)
	if d := digestOf(t, archiveOut); d != digest {
		t.Fatalf("layout and archive digests differ: %s vs %s", digest, d)
	}
	for _, ref := range []string{"oci:layout:latest", "oci-archive:site.tar"} {
		raw := run(t, work, skopeo, "inspect", "--raw", ref)
		sum := sha256.Sum256([]byte(raw))
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
			t.Errorf("skopeo inspect --raw %s: manifest digest %s, want %s", ref, got, digest)
		}
		var info struct {
			Digest, Architecture, Os, Created string
			Layers                            []string
		}
		if err := json.Unmarshal([]byte(run(t, work, skopeo, "inspect", ref)), &info); err != nil {
			t.Fatal(err)
		}
		if info.Digest != digest || info.Os != "linux" || info.Architecture != "amd64" || len(info.Layers) != 1 || info.Created != "1970-01-01T00:00:00Z" {
			t.Errorf("skopeo inspect %s = %+v", ref, info)
		}
	}
	// skopeo copies the archive into a layout without changing a byte, and
	// umoci unpacks that copy to the source tree.
	run(t, work, skopeo, "copy", "oci-archive:site.tar", "oci:copy:v1")
	raw := run(t, work, skopeo, "inspect", "--raw", "oci:copy:v1")
	sum := sha256.Sum256([]byte(raw))
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		t.Errorf("skopeo copy changed the manifest: %s, want %s", got, digest)
	}
	umoci := tool(t, "umoci")
	run(t, work, umoci, "unpack", "--rootless", "--image", "copy:v1", "bundle")
	compareTrees(t, snapshot(t, filepath.Join(work, "bundle", "rootfs")), normalised(snapshot(t, src)))
}

// TestTwoMachines builds differently prepared copies with the real binary
// in separate processes and directories: one digest.
func TestTwoMachines(t *testing.T) {
	work := t.TempDir()
	a := filepath.Join(work, "checkout-a", "site")
	b := filepath.Join(work, "other", "place", "assets")
	makeSource(t, a)
	makeSource(t, b)
	filepath.Walk(b, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Mode()&0o100 == 0 {
			os.Chmod(p, 0o664)
		}
		return nil
	})
	da := digestOf(t, run(t, work, bin, "build", a, "-o", "oci:x", "--git=false"))
	cmd := exec.Command(bin, "build", b, "-o", "tar:y.tar", "--git=false")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TZ=Asia/Kathmandu", "LC_ALL=de_DE.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if db := digestOf(t, string(out)); db != da {
		t.Errorf("digests differ: %s vs %s", da, db)
	}
}

// TestUnreadable runs the build as an unprivileged user (root reads every
// file, so as root the test drops to uid 65534 with setpriv): an unreadable
// file or directory is an error naming it, exit code 2, no output left.
func TestUnreadable(t *testing.T) {
	var prefix []string
	if os.Geteuid() == 0 {
		prefix = []string{tool(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	}
	for _, tc := range []struct {
		name string
		lock string // path made mode 0000
	}{
		{"file", "css/site.css"},
		{"directory", "js"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work, err := os.MkdirTemp("", "assetpack-e2e-unreadable-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(work)
			os.Chmod(work, 0o777)
			src := filepath.Join(work, "site")
			makeSource(t, src)
			filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode()&os.ModeSymlink == 0 {
					if info.IsDir() {
						os.Chmod(p, 0o755)
					} else {
						os.Chmod(p, info.Mode().Perm()|0o444)
					}
				}
				return nil
			})
			locked := filepath.Join(src, tc.lock)
			os.Chmod(locked, 0)
			defer os.Chmod(locked, 0o755)

			args := append(append([]string{}, prefix...), bin, "build", "site", "--git=false")
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = work
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want 2; stderr %q", err, stderr.String())
			}
			want := fmt.Sprintf("%q", filepath.Join("site", tc.lock))
			if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "permission denied") || stdout.Len() != 0 {
				t.Errorf("stderr = %q, want it to name %s and say permission denied", stderr.String(), want)
			}
			if _, err := os.Stat(filepath.Join(work, "assetpack-out")); !os.IsNotExist(err) {
				t.Errorf("a failed build left assetpack-out behind")
			}
		})
	}
}
