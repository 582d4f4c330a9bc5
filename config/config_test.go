package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/config"
)

func TestStarterIsValid(t *testing.T) {
	c, err := config.Parse([]byte(config.Starter), "assetpack.yaml")
	if err != nil {
		t.Fatalf("the starter file does not validate: %v", err)
	}
	if c.Source != "./site" || c.Prefix != "site" || c.Repository != "registry.example.com/web/site-assets" || len(c.Tags) != 2 {
		t.Errorf("starter = %+v", c)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"malformed YAML", "source: ./site\ntags: [a, b\n", []string{"assetpack.yaml", "line 1"}},
		{"unknown key", "source: ./site\nrepositry: x\n", []string{"assetpack.yaml:2:", "repositry", "unknown key"}},
		{"nested unknown key", "sign:\n  key: k\n  keyles: true\n", []string{"assetpack.yaml:3:", "sign.keyles"}},
		{"wrong type", "source: ./site\npush: yes please\n", []string{"assetpack.yaml:2:", "push", "boolean"}},
		{"bad enum", "compression: brotli\n", []string{"assetpack.yaml:1:", "compression", "gzip"}},
		{"bad SBOM format", "sign:\n  key: k\n  sbomFormat: swid\n", []string{"assetpack.yaml:3:", "sign.sbomFormat", "cyclonedx"}},
		{"bad layers", "source: .\nlayers: many\n", []string{"assetpack.yaml:2:", "layers", "single"}},
		{"bad platform", "platforms:\n  - linux/amd64\n  - Linux\n", []string{"assetpack.yaml:3:", "platforms.1"}},
		{"relative mount path", "kubernetes:\n  workload: deployment/web\n  mountPath: html\n", []string{"assetpack.yaml:3:", "kubernetes.mountPath"}},
		{"missing required", "source: x\nkubernetes:\n  workload: deployment/web\n", []string{"assetpack.yaml:2:", "kubernetes", "mountPath"}},
		{"not a mapping", "- a\n- b\n", []string{"assetpack.yaml:1:", "(top level)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.in), "assetpack.yaml")
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Parse() = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if c, err := config.Parse([]byte("# only comments\n"), "assetpack.yaml"); err != nil || c == nil {
		t.Errorf("an empty file: %v", err)
	}
}

func TestExpandTags(t *testing.T) {
	c := &config.Config{Repository: "ghcr.io/acme/site", Tags: []string{"{{.ShortCommit}}", "{{.Branch}}-{{.Date}}", "latest"}, Path: "assetpack.yaml"}
	d := config.GitData{Commit: "0123456789abcdef0123", ShortCommit: "0123456789ab", Branch: "feature/x", Date: "20261127"}
	got, err := c.ExpandTags(d)
	if err != nil {
		t.Fatal(err)
	}
	want := "ghcr.io/acme/site:0123456789ab ghcr.io/acme/site:feature-x-20261127 ghcr.io/acme/site:latest"
	if strings.Join(got, " ") != want {
		t.Errorf("ExpandTags = %v, want %s", got, want)
	}
	c.Tags = []string{"{{.Tag}}"}
	if _, err := c.ExpandTags(d); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), ".Tag") {
		t.Errorf("unfilled placeholder: %v", err)
	}
	c.Tags = []string{"v-{{ .Tag | printf \"%s\" }}"}
	if _, err := c.ExpandTags(d); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), ".Tag") {
		t.Errorf("unfilled placeholder through a pipeline: %v", err)
	}
	c.Tags = []string{"{{.Nope}}"}
	if _, err := c.ExpandTags(d); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("unknown placeholder: %v", err)
	}
}

// FuzzParse: any input validates or fails with ErrInvalid, never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(config.Starter))
	f.Add([]byte("source: [\n"))
	f.Add([]byte("kubernetes: {workload: a/b, mountPath: /x, containers: [1, 2]}\n"))
	f.Add([]byte("&a x: *a\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := config.Parse(in, "assetpack.yaml"); err != nil && !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("Parse() = %v", err)
		}
	})
}

// TestSignAttestKeys: sign.sbom and sign.provenance are unset unless
// written (the defaults are the CLI's), sbomFormat and the deprecated
// attestFiles parse.
func TestSignAttestKeys(t *testing.T) {
	c, err := config.Parse([]byte("sign:\n  key: k\n  sbom: false\n  sbomFormat: cyclonedx\n  attestFiles: true\n"), "assetpack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Sign; s.SBOM == nil || *s.SBOM || s.SBOMFormat != "cyclonedx" || s.Provenance != nil || !s.AttestFiles {
		t.Errorf("sign = %+v", s)
	}
	c, err = config.Parse([]byte("sign: {keyless: true, provenance: true}\n"), "assetpack.yaml")
	if err != nil || c.Sign.SBOM != nil || c.Sign.Provenance == nil || !*c.Sign.Provenance {
		t.Errorf("sign = %+v, %v", c.Sign, err)
	}
}
