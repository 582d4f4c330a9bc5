package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run the real CLI: the test binary re-executes itself as
// assetpack, so exit codes, stdout/stderr separation and environment
// (TZ, LANG, SOURCE_DATE_EPOCH) are what a user gets.
func TestMain(m *testing.M) {
	if os.Getenv("ASSETPACK_TEST_MAIN") == "1" {
		main()
		return
	}
	// Keep the build cache out of the user's cache directory.
	cache, err := os.MkdirTemp("", "assetpack-test-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ASSETPACK_CACHE_DIR", cache)
	cleanup, err := prepareBuild()
	if err != nil {
		os.RemoveAll(cache)
		panic(err)
	}
	code := m.Run()
	cleanup()
	os.RemoveAll(cache)
	os.Exit(code)
}

// prepareBuild readies what this build of the CLI needs to run every
// command; a lite build (lite_test.go) needs assetpack-sigstore.
var prepareBuild = func() (cleanup func(), err error) { return func() {}, nil }

type result struct {
	stdout, stderr string
	code           int
}

func assetpack(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "ASSETPACK_TEST_MAIN=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running assetpack: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// copyTree copies testdata/site to dst (files, modes, symlinks).
func copyTree(t *testing.T, dst string) {
	t.Helper()
	src, _ := filepath.Abs("../../testdata/site")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			return os.Symlink(l, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listDir returns every path below dir, for "nothing was left behind" checks.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
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

var refRE = regexp.MustCompile(`^oci:assetpack-out/site@sha256:[0-9a-f]{64}\n$`)

func TestBuildDefaultOutput(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	r := assetpack(t, work, nil, "build", "site", "--git=false")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if !refRE.MatchString(r.stdout) {
		t.Errorf("stdout = %q, want only the digest reference", r.stdout)
	}
	if !strings.Contains(r.stderr, "wrote oci:assetpack-out/site") {
		t.Errorf("stderr = %q, want a note saying where the image went", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "assetpack-out", "site", "index.json")); err != nil {
		t.Errorf("layout missing: %v", err)
	}
	q := assetpack(t, work, nil, "build", "site", "--git=false", "-q")
	if q.stderr != "" || q.stdout != r.stdout {
		t.Errorf("--quiet: stdout %q stderr %q", q.stdout, q.stderr)
	}
}

// TestBuildCacheNotWritable: a build cache that cannot be written is a
// warning naming it (not with -q), never a failed build.
func TestBuildCacheNotWritable(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	os.WriteFile(filepath.Join(work, "blocker"), nil, 0o644)
	// Files changed in the last two seconds are never cached (README).
	time.Sleep(2100 * time.Millisecond)
	cache := filepath.Join(work, "blocker", "cache")
	r := assetpack(t, work, nil, "build", "site", "--git=false", "--cache-dir", cache)
	if r.code != 0 || !refRE.MatchString(r.stdout) {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: writing the build cache in \""+cache+"\"") || !strings.Contains(r.stderr, "--no-cache") {
		t.Errorf("stderr = %q, want a warning naming the cache directory", r.stderr)
	}
	q := assetpack(t, work, nil, "build", "site", "--git=false", "--cache-dir", cache, "-q")
	if q.code != 0 || q.stderr != "" {
		t.Errorf("-q: exit %d, stderr %q", q.code, q.stderr)
	}
}

// TestBuildEnvironmentIndependence runs the CLI under other time zones,
// locales and umasks, and with the output inside the source tree.
func TestBuildEnvironmentIndependence(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	base := assetpack(t, work, []string{"TZ=UTC", "LANG=C"}, "build", "site", "--git=false", "-o", "oci:a")
	if base.code != 0 {
		t.Fatalf("exit %d: %s", base.code, base.stderr)
	}
	digest := base.stdout[strings.Index(base.stdout, "@"):]
	for _, env := range [][]string{
		{"TZ=Pacific/Chatham", "LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8"},
		{"TZ=America/St_Johns", "LANG=ja_JP.EUC-JP"},
		{"TZ=<+1345>-13:45"},
	} {
		r := assetpack(t, work, env, "build", "site", "--git=false", "-o", "oci:b")
		if r.code != 0 || !strings.HasSuffix(r.stdout, digest) {
			t.Errorf("env %v: %q (exit %d, %s), want digest %s", env, r.stdout, r.code, r.stderr, digest)
		}
	}
	// Output inside the source tree: never packed, so the digest is stable.
	site := filepath.Join(work, "site")
	for i := 0; i < 2; i++ {
		r := assetpack(t, site, nil, "build", ".", "--git=false")
		if r.code != 0 || !strings.HasSuffix(r.stdout, digest) {
			t.Errorf("build . run %d: %q (exit %d, %s), want digest %s", i, r.stdout, r.code, r.stderr, digest)
		}
	}
	// SOURCE_DATE_EPOCH applies; the flag wins over it.
	env := assetpack(t, work, []string{"SOURCE_DATE_EPOCH=1700000000"}, "build", "site", "--git=false", "-o", "oci:c")
	flag := assetpack(t, work, []string{"SOURCE_DATE_EPOCH=5"}, "build", "site", "--git=false", "-o", "oci:d", "--source-date-epoch", "1700000000")
	if env.code != 0 || flag.code != 0 || strings.HasSuffix(env.stdout, digest) || env.stdout[strings.Index(env.stdout, "@"):] != flag.stdout[strings.Index(flag.stdout, "@"):] {
		t.Errorf("SOURCE_DATE_EPOCH precedence: env %q, flag %q", env.stdout, flag.stdout)
	}
}

func TestBuildUmask(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "a"))
	old := syscall.Umask(0o077)
	copyTree(t, filepath.Join(work, "b"))
	syscall.Umask(old)
	os.Chmod(filepath.Join(work, "b", "index.html"), 0o600)
	a := assetpack(t, work, nil, "build", "a", "--git=false", "-o", "oci:out-a")
	b := assetpack(t, work, nil, "build", "b", "--git=false", "-o", "oci:out-b")
	if a.code != 0 || b.code != 0 || a.stdout[strings.Index(a.stdout, "@"):] != b.stdout[strings.Index(b.stdout, "@"):] {
		t.Errorf("umask 022 vs 077: %q vs %q", a.stdout, b.stdout)
	}
}

func TestBuildJSONAndDigestFile(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	r := assetpack(t, work, nil, "build", "site", "--git=false", "--json", "--digest-file", "digest.txt",
		"-o", "tar:site.tar", "--prefix", "site", "--platform", "linux/amd64,linux/arm64", "--compression", "zstd")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var j struct {
		Reference, Digest, MediaType, Output, Prefix string
		Size                                         int64
		Platforms                                    []string
		Files                                        int
		UncompressedBytes                            int64
		Layers                                       []struct {
			Digest, DiffID, MediaType string
			Size                      int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if j.Reference != "tar:site.tar@"+j.Digest || j.MediaType != "application/vnd.oci.image.index.v1+json" ||
		len(j.Platforms) != 2 || j.Files != 6 || j.Prefix != "/site" || j.Size == 0 || j.UncompressedBytes == 0 ||
		len(j.Layers) != 1 || j.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" || j.Layers[0].DiffID == "" {
		t.Errorf("JSON = %+v", j)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "digest.txt")); string(b) != j.Digest+"\n" {
		t.Errorf("digest file = %q, want %q", b, j.Digest)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	os.MkdirAll(filepath.Join(work, "empty"), 0o755)
	os.WriteFile(filepath.Join(work, "file.txt"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(work, "escape"), 0o755)
	os.WriteFile(filepath.Join(work, "escape", "a"), []byte("x"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(work, "escape", "passwd"))
	os.MkdirAll(filepath.Join(work, "mine"), 0o755)
	os.WriteFile(filepath.Join(work, "mine", "keep.txt"), []byte("x"), 0o644)
	before := listDir(t, work)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{"missing dir", nil, []string{"build", "nope"}, `"nope"`},
		{"file", nil, []string{"build", "file.txt"}, `"file.txt": not a directory`},
		{"empty dir", nil, []string{"build", "empty"}, `"empty": no files to pack (after .git, .assetignore and --exclude patterns are applied); add files, or pass --allow-empty`},
		{"no args", nil, []string{"build"}, "build needs a directory, or an assetpack.yaml"},
		{"two args", nil, []string{"build", "site", "empty"}, "exactly one directory"},
		{"unknown flag", nil, []string{"build", "site", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"unknown command", nil, []string{"bild", "site"}, `did you mean "build"`},
		{"bad compression", nil, []string{"build", "site", "--compression", "brotli"}, `--compression "brotli" is not supported`},
		{"negative epoch", nil, []string{"build", "site", "--source-date-epoch", "-1"}, "--source-date-epoch \"-1\""},
		{"text epoch", nil, []string{"build", "site", "--source-date-epoch", "yesterday"}, "--source-date-epoch \"yesterday\""},
		{"epoch past 9999", nil, []string{"build", "site", "--source-date-epoch", "253402300800"}, "out of range"},
		{"bad env epoch", []string{"SOURCE_DATE_EPOCH=soon"}, []string{"build", "site"}, `SOURCE_DATE_EPOCH "soon"`},
		{"prefix escape", nil, []string{"build", "site", "--prefix", "../x"}, `--prefix "../x" contains ".."`},
		{"symlink escape", nil, []string{"build", "escape"}, `"escape/passwd": symlink points outside the source directory (it points to "/etc/passwd"); make it relative and inside the tree, remove it, or use --symlinks follow`},
		{"bad output kind", nil, []string{"build", "site", "-o", "docker:x"}, `"docker:x"`},
		{"foreign output", nil, []string{"build", "site", "-o", "oci:mine"}, `"mine" is a directory that is not an OCI image layout`},
		{"bad platform", nil, []string{"build", "site", "--platform", "linux"}, `--platform "linux" is not of the form`},
		{"unknown architecture", nil, []string{"build", "site", "--platform", "linux/amd65"},
			`--platform "linux/amd65": unknown architecture "amd65" for linux (did you mean amd64?); linux architectures are 386, amd64,`},
		{"two bad platforms", nil, []string{"build", "site", "--platform", "linux/amd65,linx/arm64"},
			"(did you mean amd64?)" + `; linux architectures are 386, amd64, arm, arm64, loong64, mips, mips64, mips64le, mipsle, ppc64, ppc64le, riscv64, s390x` +
				"\n" + `--platform "linx/arm64": unknown operating system "linx" (did you mean linux?)`},
		{"bad annotation", nil, []string{"build", "site", "--annotation", "novalue"}, `--annotation "novalue"`},
		{"bad exclude", nil, []string{"build", "site", "--exclude", "[x"}, `--exclude "[x": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := assetpack(t, work, tc.env, tc.args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "assetpack: ") || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "assetpack: ") != 1 {
				t.Errorf("stderr = %q, want one error containing %q", r.stderr, tc.want)
			}
			if after := listDir(t, work); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("files changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
}

// TestPlatformAlias: a well-known alias is written under the name runtimes
// match, with a note on stderr (none with -q).
func TestPlatformAlias(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	r := assetpack(t, work, nil, "build", "site", "--git=false", "--json", "--platform", "linux/x86_64,linux/aarch64")
	if r.code != 0 {
		t.Fatalf("build: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"note: platform linux/x86_64 is written linux/amd64, the name runtimes match\n",
		"note: platform linux/aarch64 is written linux/arm64, the name runtimes match\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
	}
	var j struct{ Platforms []string }
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || strings.Join(j.Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v (%v), want linux/amd64,linux/arm64", j.Platforms, err)
	}
	if r := assetpack(t, work, nil, "build", "site", "--git=false", "-q", "--platform", "linux/aarch64"); r.code != 0 || r.stderr != "" {
		t.Errorf("build -q: exit %d, stderr %q, want nothing", r.code, r.stderr)
	}
}

// TestProgressPlain: off a terminal, progress is a few timestamped lines
// and never a carriage return; -q and --progress none print only the
// result; a --progress that is not a mode is refused with the others.
func TestProgressPlain(t *testing.T) {
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	line := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d build: \d+ files, [0-9.]+ [KMG]?i?B in 1 layer\n\d\d:\d\d:\d\d build: done: `)
	for _, args := range [][]string{{"build", "site", "--git=false"}, {"build", "site", "--git=false", "--progress", "plain"}} {
		r := assetpack(t, work, nil, args...)
		if r.code != 0 || !line.MatchString(r.stderr) || strings.Contains(r.stderr, "\r") {
			t.Errorf("%v: exit %d, stderr %q; want timestamped build lines", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"build", "site", "--git=false", "--progress", "none"}, {"build", "site", "--git=false", "-q"}} {
		if r := assetpack(t, work, nil, args...); r.code != 0 || strings.Contains(r.stderr, "build:") {
			t.Errorf("%v: exit %d, stderr %q; want no progress", args, r.code, r.stderr)
		}
	}
	r := assetpack(t, work, nil, "build", "site", "--progress", "fancy", "--compression", "lz4")
	if r.code != 2 || !strings.Contains(r.stderr, `--progress "fancy" is not supported: use auto, tty, plain, none`) || !strings.Contains(r.stderr, `--compression "lz4"`) {
		t.Errorf("bad --progress: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := assetpack(t, t.TempDir(), nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "assetpack ") {
			t.Errorf("%v: %q (exit %d)", args, r.stdout, r.code)
		}
	}
}

// TestInterrupt sends SIGINT, then SIGTERM, during a long build: exit 130,
// and neither the output nor its staging directory is left behind.
func TestInterrupt(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { interrupt(t, sig) })
	}
}

func interrupt(t *testing.T, sig os.Signal) {
	work := t.TempDir()
	src := filepath.Join(work, "model")
	os.MkdirAll(src, 0o755)
	f, _ := os.Create(filepath.Join(src, "weights.bin"))
	f.Truncate(8 << 30) // sparse: takes no disk
	f.Close()
	cmd := exec.Command(os.Args[0], "build", "model", "--git=false")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "ASSETPACK_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(work, "assetpack-out", ".model.assetpack-tmp-*", "work", "layer-*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the build never started writing a layer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit = %v, want 130 (stderr %q)", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if left := listDir(t, filepath.Join(work, "assetpack-out")); len(left) != 0 {
		t.Errorf("interrupted build left %q", left)
	}
}

// TestHandOffVersionMismatch: a companion run by an assetpack of another
// version says so (the pair must come from one release), and runs anyway.
func TestHandOffVersionMismatch(t *testing.T) {
	r := assetpack(t, t.TempDir(), []string{"ASSETPACK_HANDED_OFF=v0.0.1-elsewhere"}, "version")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: assetpack v0.0.1-elsewhere handed this command to assetpack-sigstore") ||
		!strings.Contains(r.stderr, "install both from one release") || !strings.HasPrefix(r.stdout, "assetpack ") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if r := assetpack(t, t.TempDir(), nil, "version"); strings.Contains(r.stderr, "warning") {
		t.Errorf("a warning without a hand-off: %q", r.stderr)
	}
}
