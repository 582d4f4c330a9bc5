package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/builder"
)

// adviceCase is a real library error (so that a library message that
// drifts from what the CLI rewords fails here) and what a user of command
// cmd must read, or not read, once withFlagAdvice has reworded it.
type adviceCase struct {
	name, cmd string
	err       error
	want      []string // in the reworded message
	not       []string // not in it
}

// checkAdvice checks that each case names the flags it wants and keeps the
// library error in the chain, with its exit code.
func checkAdvice(t *testing.T, cases []adviceCase) {
	t.Helper()
	ctx := context.Background()
	root := NewRoot(strings.NewReader(""), io.Discard, io.Discard)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := root.Find(strings.Fields(tc.cmd))
			if err != nil || c == root {
				t.Fatalf("no command %q: %v", tc.cmd, err)
			}
			if tc.err == nil {
				t.Fatal("the library returned no error")
			}
			got := withFlagAdvice(c, tc.err)
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("withFlagAdvice(%s) = %q\nwant it to contain %q", tc.cmd, got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got.Error(), n) {
					t.Errorf("withFlagAdvice(%s) = %q\nwant it without %q", tc.cmd, got, n)
				}
			}
			// The library error stays in the chain (ggcr's errors are not
			// all comparable, so errors.Is(got, tc.err) cannot tell).
			u := got
			if fa, ok := got.(*flagAdvice); ok {
				u = fa.err
			}
			if u.Error() != tc.err.Error() {
				t.Errorf("withFlagAdvice(%s) unwraps to %v, want the library error %v", tc.cmd, u, tc.err)
			}
			if ExitCode(ctx, got) != ExitCode(ctx, tc.err) {
				t.Errorf("withFlagAdvice(%s): exit code %d, want %d", tc.cmd, ExitCode(ctx, got), ExitCode(ctx, tc.err))
			}
		})
	}
}

// testDir makes a directory under t.TempDir() holding files (each
// containing its name).
func testDir(t *testing.T, files ...string) string {
	d := t.TempDir()
	for _, f := range files {
		os.WriteFile(filepath.Join(d, f), []byte(f), 0o644)
	}
	return d
}

func TestBuilderFlagAdvice(t *testing.T) {
	build := func(d string, opts ...builder.Option) error {
		res, err := builder.Build(context.Background(), d, append(opts, builder.WithGit(false))...)
		if err == nil {
			res.Close()
		}
		return err
	}
	site, empty, escape := testDir(t, "index.html"), testDir(t), testDir(t, "a")
	os.Symlink("/etc/passwd", filepath.Join(escape, "passwd"))
	checkAdvice(t, []adviceCase{
		{"compression", "build", func() error { _, err := builder.ParseCompression("lz4"); return err }(),
			[]string{`--compression "lz4" is not supported: use gzip, zstd, none or auto`}, nil},
		{"platform", "build", func() error { _, err := builder.ParsePlatforms([]string{"linux"}); return err }(),
			[]string{`--platform "linux" is not of the form os/arch[/variant]`}, nil},
		{"layers", "build", build(site, builder.WithLayers("many")), []string{`--layers "many" is not supported`}, nil},
		{"prefix", "build", build(site, builder.WithPrefix("../x")), []string{`--prefix "../x" contains ".."`}, nil},
		{"exclude", "build", build(site, builder.WithExcludes("[x")), []string{`--exclude "[x": `}, []string{"exclude pattern"}},
		{"diff symlinks", "diff", build(site, builder.WithSymlinks("copy")), []string{`--symlinks "copy" is not supported`}, nil},
		{"empty", "build", build(empty),
			[]string{"(after .git, .assetignore and --exclude patterns are applied); add files, or pass --allow-empty to build an image without files"}, []string{"With"}},
		{"empty without --allow-empty", "diff", build(empty), []string{`"` + empty + `": no files to pack`, "; add files"}, []string{"With", "--allow-empty"}},
		{"symlink escape", "build", build(escape), []string{"or use --symlinks follow to store its target's content"}, []string{"With"}},
		// A command without the flag keeps the library's words.
		{"no such flag", "version", func() error { _, err := builder.ParseCompression("lz4"); return err }(),
			[]string{`compression "lz4" is not supported`}, []string{"--compression"}},
	})
}
