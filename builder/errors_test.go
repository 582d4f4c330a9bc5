package builder_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assetpack/assetpack/builder"
)

// TestOptionErrors: an invalid option value is an *OptionError that names
// the option and the value (never a CLI flag) and matches its sentinel and
// ErrBadInput.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	build := func(opts ...builder.Option) error {
		res, err := builder.Build(context.Background(), dir, append(opts, builder.WithGit(false))...)
		if err == nil {
			res.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name, option, value, want string
		sentinel                  error
		err                       error
	}{
		{"compression", "compression", "lz4", `compression "lz4" is not supported: use gzip, zstd, zstd-better, zstd-best, none or auto`, builder.ErrInvalidOption,
			build(builder.WithCompression("lz4"))},
		{"symlinks", "symlinks", "copy", `symlinks "copy" is not supported: use preserve or follow`, builder.ErrInvalidOption,
			build(builder.WithSymlinks("copy"))},
		{"layers", "layers", "many", `layers "many" is not supported: use auto, model or single`, builder.ErrInvalidOption,
			build(builder.WithLayers("many"))},
		{"prefix", "prefix", "../x", `prefix "../x" contains ".."`, builder.ErrInvalidOption,
			build(builder.WithPrefix("../x"))},
		{"jobs", "jobs", "-1", "jobs must not be negative, got -1", builder.ErrInvalidOption,
			build(builder.WithJobs(-1))},
		{"no platform", "platform", "", "platform list is empty", builder.ErrInvalidOption,
			build(builder.WithPlatforms())},
		{"epoch", "source date epoch", "-1", "source date epoch -1 is out of range", builder.ErrInvalidOption,
			build(builder.WithSourceDateEpoch(time.Unix(-1, 0)))},
		{"empty exclude", "exclude pattern", " ", "exclude pattern is empty", builder.ErrInvalidIgnore,
			build(builder.WithExcludes(" "))},
		{"bad exclude", "exclude pattern", "[x", `exclude pattern "[x": `, builder.ErrInvalidIgnore,
			build(builder.WithExcludes("[x"))},
		{"platform", "platform", "linux", `platform "linux" is not of the form os/arch[/variant]`, builder.ErrInvalidOption,
			func() error { _, err := builder.ParsePlatforms([]string{"linux"}); return err }()},
		{"key=value", "label", "novalue", `label "novalue" is not of the form key=value`, builder.ErrInvalidOption,
			func() error { _, err := builder.ParseKeyValues("label", []string{"novalue"}); return err }()},
		{"SOURCE_DATE_EPOCH", "SOURCE_DATE_EPOCH", "soon", `SOURCE_DATE_EPOCH "soon" is not a whole number`, builder.ErrInvalidOption,
			func() error { _, err := builder.ParseSourceDateEpoch("SOURCE_DATE_EPOCH", "soon"); return err }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var oe *builder.OptionError
			if !errors.As(tc.err, &oe) || oe.Option != tc.option || oe.Value != tc.value {
				t.Fatalf("err = %#v, want an OptionError for %s %q", tc.err, tc.option, tc.value)
			}
			if !errors.Is(tc.err, tc.sentinel) || !errors.Is(tc.err, builder.ErrBadInput) {
				t.Errorf("err = %v, want it to match %v and ErrBadInput", tc.err, tc.sentinel)
			}
			if msg := tc.err.Error(); !strings.HasPrefix(msg, tc.want) || msg != oe.Option+" "+oe.Reason || strings.Contains(msg, "--") {
				t.Errorf("err = %q, want %q… (Option, then Reason), without a flag", msg, tc.want)
			}
		})
	}
}

// TestPathErrorOption: errors that another option value avoids name it in
// PathError.Option, and their hint says so in Go terms.
func TestPathErrorOption(t *testing.T) {
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "empty")
	os.Mkdir(empty, 0o755)
	escape := filepath.Join(tmp, "escape")
	os.Mkdir(escape, 0o755)
	os.Symlink("/etc/passwd", filepath.Join(escape, "passwd"))
	loop := filepath.Join(tmp, "loop")
	os.Mkdir(loop, 0o755)
	os.WriteFile(filepath.Join(loop, "a"), []byte("a"), 0o644)
	os.Symlink(".", filepath.Join(loop, "self"))
	for _, tc := range []struct {
		name, dir  string
		opts       []builder.Option
		sentinel   error
		option     string
		hintPrefix string
	}{
		{"empty", empty, nil, builder.ErrEmpty, "WithAllowEmpty", "add files, or allow an image without files with WithAllowEmpty(true)"},
		{"escape", escape, nil, builder.ErrSymlinkEscape, "WithSymlinks", "make it relative and inside the tree, remove it, or store its target's content with WithSymlinks(SymlinksFollow)"},
		{"follow loop", loop, []builder.Option{builder.WithSymlinks(builder.SymlinksFollow)}, builder.ErrSymlinkLoop, "WithSymlinks", "remove the link, or keep links as links with WithSymlinks(SymlinksPreserve)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := builder.Build(context.Background(), tc.dir, append(tc.opts, builder.WithGit(false))...)
			var pe *builder.PathError
			if !errors.As(err, &pe) || !errors.Is(err, tc.sentinel) || !errors.Is(err, builder.ErrBadInput) {
				t.Fatalf("Build() = %v, want a PathError matching %v", err, tc.sentinel)
			}
			if pe.Option != tc.option || pe.Hint != tc.hintPrefix || strings.Contains(err.Error(), "--") {
				t.Errorf("Build() = %v (Option %q), want Option %q and hint %q, without a flag", err, pe.Option, tc.option, tc.hintPrefix)
			}
		})
	}
}
