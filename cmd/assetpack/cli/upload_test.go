package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4194304": 4 << 20, "4MiB": 4 << 20, "4 MiB": 4 << 20, "4M": 4 << 20, "10MB": 10e6, "1.5GiB": 3 << 29, "64k": 64 << 10, "512B": 512} {
		if got, err := options.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "4 XB", "-1", "four"} {
		if _, err := options.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = nil error", in)
		}
	}
}

// TestUploadFlags: --upload-mode, --upload-chunk-size and --registry-profile
// reach the Registry, and bad values name the flag.
func TestUploadFlags(t *testing.T) {
	registry := func(args ...string) (*publish.Registry, error) {
		f := &buildFlags{}
		c := buildCommand(f)
		if err := c.ParseFlags(args); err != nil {
			t.Fatalf("ParseFlags(%q) = %v", args, err)
		}
		reg, _, err := newRegistry(f.ro, true, nil)
		if err != nil {
			return nil, withFlagAdvice(c, err)
		}
		return reg, nil
	}
	reg, err := registry("--upload-mode", "chunked", "--upload-chunk-size", "8MiB", "--registry-profile", "127.0.0.1:5000=ecr", "--registry-profile", "mirror.example=ghcr")
	if err != nil {
		t.Fatal(err)
	}
	if l := reg.Limits("127.0.0.1:5000"); l.Registry != "Amazon ECR" {
		t.Errorf("--registry-profile 127.0.0.1:5000=ecr: limits %+v", l)
	}
	if l := reg.Limits("mirror.example"); l.Registry != "GHCR" {
		t.Errorf("--registry-profile mirror.example=ghcr: limits %+v", l)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--upload-mode", "resumable"}, `--upload-mode "resumable" is not supported: use auto, monolithic, streamed or chunked`},
		{[]string{"--upload-chunk-size", "4XB"}, `--upload-chunk-size "4XB": unknown unit "XB"`},
		{[]string{"--upload-chunk-size", "1KiB"}, "--upload-chunk-size must be at least 65536 bytes (64 KiB), got 1024"},
		{[]string{"--registry-profile", "mirror.example"}, `--registry-profile "mirror.example": want HOST=PROFILE`},
		{[]string{"--registry-profile", "mirror.example=artifactory"}, `--registry-profile "artifactory" is not a known registry`},
	} {
		if _, err := registry(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestUploadConfig: uploadMode and uploadChunkSize in assetpack.yaml fill
// the flags that were not given.
func TestUploadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assetpack.yaml")
	os.WriteFile(cfg, []byte("source: .\nuploadMode: streamed\nuploadChunkSize: 8MiB\n"), 0o644)
	for _, tc := range []struct {
		args       []string
		mode, size string
	}{
		{nil, "streamed", "8MiB"},
		{[]string{"--upload-mode", "monolithic"}, "monolithic", "8MiB"},
		{[]string{"--upload-chunk-size", "16MiB"}, "streamed", "16MiB"},
	} {
		f := &buildFlags{}
		c := buildCommand(f)
		if err := c.ParseFlags(append([]string{"--config", cfg}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.applyConfig(c, nil); err != nil {
			t.Fatal(err)
		}
		if f.ro.UploadMode != tc.mode || f.ro.UploadChunkSize != tc.size {
			t.Errorf("%q: mode %q, chunk size %q; want %q, %q", tc.args, f.ro.UploadMode, f.ro.UploadChunkSize, tc.mode, tc.size)
		}
	}
	os.WriteFile(cfg, []byte("source: .\nuploadChunkSize: lots\n"), 0o644)
	f := &buildFlags{}
	c := buildCommand(f)
	c.ParseFlags([]string{"--config", cfg})
	if _, err := f.applyConfig(c, nil); err == nil || !strings.Contains(err.Error(), "assetpack.yaml:2: uploadChunkSize") {
		t.Errorf("uploadChunkSize: lots: %v", err)
	}
}
