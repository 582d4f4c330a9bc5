package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
)

// specOf parses args as build's command line and returns the pipeline Spec
// the command would run.
func specOf(t *testing.T, args ...string) (pack.Spec, error) {
	t.Helper()
	f := &buildFlags{}
	c := buildCommand(f)
	if err := c.ParseFlags(args); err != nil {
		t.Fatalf("ParseFlags(%q) = %v", args, err)
	}
	reg, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return f.spec(c, c.Flags().Args(), reg)
}

func TestBuildSpecDefaults(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	t.Setenv("ASSETPACK_CACHE_DIR", "/tmp/cache-here")
	spec, err := specOf(t, "./site")
	if err != nil {
		t.Fatal(err)
	}
	im := spec.Image
	switch {
	case spec.Source != "./site", spec.Reference != "", len(spec.Tags) != 0, spec.Sign != nil, len(spec.Patches) != 0:
		t.Errorf("spec = %+v, want only the source and a local output", spec)
	case spec.Output != publish.Target{Kind: publish.Layout, Path: "assetpack-out/site"}:
		t.Errorf("output %v, want oci:assetpack-out/site", spec.Output)
	case im.Compression != builder.Auto || im.Layers != builder.LayersAuto || im.Symlinks != builder.SymlinksPreserve || im.NoGit || im.AllowEmpty:
		t.Errorf("image options %+v, want the builder's defaults", im)
	case len(im.Platforms) != 1 || im.Platforms[0].String() != "linux/amd64":
		t.Errorf("platforms %v", im.Platforms)
	case im.SourceDateEpoch != nil:
		t.Errorf("source date epoch %v without flag or environment", im.SourceDateEpoch)
	case im.CacheDir != "/tmp/cache-here":
		t.Errorf("cache dir %q, want $ASSETPACK_CACHE_DIR", im.CacheDir)
	}
}

func TestBuildSpecFlags(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1600000000")
	spec, err := specOf(t, "site", "--prefix", "/site", "--compression", "zstd", "--layers", "single", "--symlinks", "follow",
		"--exclude", "*.map", "--allow-empty", "--annotation", "a=b", "--label", "l=v", "--git=false", "--no-cache",
		"--platform", "linux/amd64,linux/arm64", "-t", "ghcr.io/acme/site:v1", "-t", "ghcr.io/acme/site:latest", "--push",
		"--patch-out", "k8s/patch.yaml", "--workload", "deployment/web", "--container", "nginx", "--mount-path", "/srv")
	if err != nil {
		t.Fatal(err)
	}
	im := spec.Image
	switch {
	case im.Prefix != "/site" || im.Compression != builder.Zstd || im.Layers != builder.LayersSingle || im.Symlinks != builder.SymlinksFollow:
		t.Errorf("image %+v", im)
	case len(im.Excludes) != 1 || !im.AllowEmpty || im.Annotations["a"] != "b" || im.Labels["l"] != "v" || !im.NoGit || im.CacheDir != "":
		t.Errorf("image %+v", im)
	case len(im.Platforms) != 2 || im.Platforms[1].Architecture != "arm64":
		t.Errorf("platforms %v", im.Platforms)
	case im.SourceDateEpoch == nil || !im.SourceDateEpoch.Equal(time.Unix(1600000000, 0)):
		t.Errorf("source date epoch %v, want $SOURCE_DATE_EPOCH", im.SourceDateEpoch)
	case strings.Join(spec.Tags, " ") != "ghcr.io/acme/site:v1 ghcr.io/acme/site:latest":
		t.Errorf("tags %v", spec.Tags)
	case spec.Output.Path != "":
		t.Errorf("a push without --output writes %v", spec.Output)
	case len(spec.Patches) != 1:
		t.Fatalf("patches %+v", spec.Patches)
	}
	p := spec.Patches[0]
	if p.Format != kube.Strategic || p.Output != "k8s/patch.yaml" || p.Workload != "deployment/web" ||
		p.Mount.MountPath != "/srv" || p.Mount.SubPath != "site" || strings.Join(p.Mount.Containers, ",") != "nginx" ||
		p.Mount.VolumeName != kube.DefaultVolumeName || p.Mount.PullPolicy != kube.DefaultPullPolicy || p.Manifest != nil {
		t.Errorf("patch %+v: want strategic to k8s/patch.yaml, sub-path from --prefix", p)
	}

	// --source-date-epoch beats the environment; --sub-path beats --prefix;
	// --kustomize adds a Component; -o keeps a local output beside the push.
	spec, err = specOf(t, "site", "--source-date-epoch", "1700000000", "--prefix", "site", "--sub-path", "", "-t", "r.example/a:v1",
		"--push", "-o", "tar:out/site.tar", "--kustomize", "k8s/assets", "--workload", "deployment/web", "--container", "nginx", "--mount-path", "/srv")
	if err != nil {
		t.Fatal(err)
	}
	if !spec.Image.SourceDateEpoch.Equal(time.Unix(1700000000, 0)) || spec.Output != (publish.Target{Kind: publish.Archive, Path: "out/site.tar"}) ||
		len(spec.Patches) != 1 || spec.Patches[0].Format != kube.Kustomize || spec.Patches[0].Output != "k8s/assets" || spec.Patches[0].Mount.SubPath != "" {
		t.Errorf("spec %+v", spec)
	}
}

func TestBuildSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the message
		flag bool   // a usage error (exit 2)
	}{
		{[]string{}, "build needs a directory", true},
		{[]string{"site", "-t", "r.example/a:v1"}, "add --push", true},
		{[]string{"site", "--push"}, "--push needs at least one -t", true},
		// Every problem at once, one per line.
		{[]string{"site", "--compression", "lz4", "--prefix", "../x", "-t", "Repo:x"},
			"compression \"lz4\" is not supported: use gzip, zstd, zstd-better, zstd-best, none or auto\nprefix \"../x\" contains \"..\": use a path inside the image, such as /site\n" +
				"-t names where to push: add --push (or drop -t to only build locally)\ninvalid reference \"Repo:x\": the repository \"Repo\" has uppercase letters", true},
		{[]string{"site", "--patch-out", "p.yaml"}, "--patch-out and --kustomize pin the pushed digest", true},
		{[]string{"site", "--sign"}, "--sign signs the pushed digest", true},
		{[]string{"site", "--attest-files"}, "--sign signs the pushed digest", true},
		{[]string{"site", "--sbom"}, "--sign signs the pushed digest (and --sbom and --provenance attest it)", true},
		{[]string{"site", "--push", "-t", "r.example/a:v1", "--patch-out", "p", "--patch-format", "kustomize"}, "use --kustomize DIR", true},
		{[]string{"site", "--push", "-t", "r.example/a:v1", "--patch-out", "p", "-f", "-"}, "stdin is not read by build", true},
		{[]string{"site", "--push", "-t", "r.example/a:v1", "--patch-out", "p", "-f", "/does/not/exist.yaml"}, `-f "/does/not/exist.yaml"`, true},
		{[]string{"site", "--compression", "lz4"}, "lz4", true},
		{[]string{"site", "--platform", "linux"}, "linux", true},
		{[]string{"site", "--source-date-epoch", "yesterday"}, "yesterday", true},
	} {
		_, err := specOf(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("build %q: %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		var ue usageError
		if tc.flag && !errors.As(err, &ue) && !errors.Is(err, builder.ErrBadInput) {
			t.Errorf("build %q: %v is not a usage error (exit 2)", tc.args, err)
		}
	}
}

// TestBuildAdvice: the pipeline's complaints about patch requests become
// advice about build's flags.
func TestBuildAdvice(t *testing.T) {
	for field, want := range map[string]string{
		"Patches[1].Workload": "--workload KIND/NAME is required for --patch-out and --kustomize",
		"Patches[0].Manifest": "pass the workload manifest with -f FILE",
		"Tags":                "Tags: x",
	} {
		err := buildAdvice(&pack.SpecError{Field: field, Msg: "x"}, pack.Spec{}, "")
		var ue usageError
		if !strings.Contains(err.Error(), want) || !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a usage error containing %q", field, err, want)
		}
	}
	other := errors.New("pushing failed")
	if err := buildAdvice(other, pack.Spec{}, ""); err != other {
		t.Errorf("buildAdvice changed %v to %v", other, err)
	}
}

// TestBuildSpecSign: --sign asks for the SBOM and the provenance; --sbom,
// --provenance and --attest-files ask for a signature; the flag beats the
// environment.
func TestBuildSpecSign(t *testing.T) {
	push := []string{"site", "-t", "r.example/a:v1", "--push"}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		sbom       attest.Format
		provenance bool
	}{
		{"sign", nil, []string{"--sign"}, attest.SPDX, true},
		{"no sbom", nil, []string{"--sign", "--sbom=false"}, "", false},
		{"provenance only", nil, []string{"--sign", "--sbom=false", "--provenance"}, "", true},
		{"sbom only", nil, []string{"--sign", "--provenance=false"}, attest.SPDX, false},
		{"sbom implies sign", nil, []string{"--sbom"}, attest.SPDX, true},
		{"cyclonedx", nil, []string{"--sign", "--sbom-format", "cyclonedx"}, attest.CycloneDX, true},
		{"attest-files", nil, []string{"--attest-files"}, attest.SPDX, true},
		{"environment off", map[string]string{"ASSETPACK_SBOM": "false"}, []string{"--sign"}, "", false},
		{"flag beats environment", map[string]string{"ASSETPACK_SBOM": "false", "ASSETPACK_PROVENANCE": "0"}, []string{"--sign", "--sbom"}, attest.SPDX, false},
		{"environment format", map[string]string{"ASSETPACK_SBOM_FORMAT": "cyclonedx"}, []string{"--sign"}, attest.CycloneDX, true},
		{"flag format beats environment", map[string]string{"ASSETPACK_SBOM_FORMAT": "cyclonedx"}, []string{"--sign", "--sbom-format", "spdx"}, attest.SPDX, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"ASSETPACK_SBOM", "ASSETPACK_SBOM_FORMAT", "ASSETPACK_PROVENANCE"} {
				t.Setenv(k, tc.env[k])
			}
			spec, err := specOf(t, append(append([]string{}, push...), tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			s := spec.Sign
			if s == nil || s.Signer != nil || s.SBOM != tc.sbom || s.Provenance != tc.provenance || !s.Recursive || s.Format != sign.FormatBundle || s.Version != Info().Version {
				t.Errorf("Sign = %+v, want SBOM %q, provenance %v", s, tc.sbom, tc.provenance)
			}
		})
	}
	t.Setenv("ASSETPACK_SBOM", "")
	if spec, err := specOf(t, push...); err != nil || spec.Sign != nil {
		t.Errorf("without --sign: %+v, %v; want nothing signed", spec.Sign, err)
	}
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"--sign", "--sbom-format", "swid"}, `--sbom-format "swid": want spdx or cyclonedx`},
		{"yes please", []string{"--sign"}, `ASSETPACK_SBOM="yes please": want true or false`},
	} {
		t.Setenv("ASSETPACK_SBOM", tc.env)
		_, err := specOf(t, append(append([]string{}, push...), tc.args...)...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBuildConfigAttest: the configuration file's sign keys, below the
// environment and the flags.
func TestBuildConfigAttest(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assetpack.yaml")
	os.WriteFile(cfg, []byte("repository: r.example/a\ntags: [v1]\npush: true\nsign: {key: cosign.key, sbom: true, sbomFormat: cyclonedx, provenance: false}\n"), 0o644)
	old := filepath.Join(dir, "old.yaml")
	os.WriteFile(old, []byte("repository: r.example/a\ntags: [v1]\npush: true\nsign: {key: cosign.key, sbom: false, attestFiles: true}\n"), 0o644)
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		sbom       attest.Format
		provenance bool
	}{
		{"file", nil, []string{"--config", cfg}, attest.CycloneDX, false},
		{"environment beats file", map[string]string{"ASSETPACK_SBOM_FORMAT": "spdx", "ASSETPACK_PROVENANCE": "true"}, []string{"--config", cfg}, attest.SPDX, true},
		{"flag beats environment", map[string]string{"ASSETPACK_SBOM": "true"}, []string{"--config", cfg, "--sbom=false"}, "", false},
		{"sbom: false wins over the deprecated attestFiles", nil, []string{"--config", old}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"ASSETPACK_SBOM", "ASSETPACK_SBOM_FORMAT", "ASSETPACK_PROVENANCE"} {
				t.Setenv(k, tc.env[k])
			}
			f := &buildFlags{}
			c := buildCommand(f)
			if err := c.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			if _, err := f.applyConfig(c, nil); err != nil {
				t.Fatal(err)
			}
			reg, _ := publish.NewRegistry()
			spec, err := f.spec(c, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			if s := spec.Sign; s == nil || s.SBOM != tc.sbom || s.Provenance != tc.provenance {
				t.Errorf("Sign = %+v, want SBOM %q, provenance %v", s, tc.sbom, tc.provenance)
			}
		})
	}
}

func TestBuildSpecPlatformDirs(t *testing.T) {
	spec, err := specOf(t, "--platform-dir", "linux/amd64=dist/amd64", "--platform-dir", "linux/arm64=dist/arm64", "-t", "ghcr.io/acme/tool:v1", "--push")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Source != "" || len(spec.PlatformSources) != 2 || spec.PlatformSources[1].String() != "linux/arm64=dist/arm64" || len(spec.Image.Platforms) != 0 {
		t.Errorf("spec = %+v", spec)
	}
	local, err := specOf(t, "--platform-dir", "linux/amd64=dist/amd64", "--platform-dir", "linux/arm64=dist/arm64")
	if err != nil {
		t.Fatal(err)
	}
	if local.Output != (publish.Target{Kind: publish.Layout, Path: "assetpack-out/dist"}) {
		t.Errorf("output %v, want oci:assetpack-out/dist (the directory holding the platforms' directories)", local.Output)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"site", "--platform-dir", "linux/amd64=dist/amd64"}, "drop the DIR argument"},
		{[]string{"--platform", "linux/arm64", "--platform-dir", "linux/amd64=dist/amd64"}, "drop --platform"},
		{[]string{"--platform-dir", "linux/amd64"}, "platform source"},
	} {
		if _, err := specOf(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
