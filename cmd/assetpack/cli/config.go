package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/config"
	"github.com/assetpack/assetpack/internal/atomicfile"
)

// loadConfig loads path, or ./assetpack.yaml when path is empty and
// lookForDefault is set (build without DIR). It returns nil when there is none.
func loadConfig(path string, lookForDefault bool) (*config.Config, error) {
	if path == "" && lookForDefault {
		if _, err := os.Stat(config.FileName); err == nil {
			path = config.FileName
		}
	}
	if path == "" {
		return nil, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// applyConfig fills every option whose flag was not given from cfg:
// flag > environment > config file > default.
func applyConfig(c *cobra.Command, cfg *config.Config, bo *options.Build, to *options.Tags, so *options.Sign, signImage *bool,
	po *options.Patch, ro *options.Registry, patchOut, patchFormat, kustomize, patchFile *string) error {
	set := func(flag string) bool { return !c.Flags().Changed(flag) }
	if set("upload-mode") && cfg.UploadMode != "" {
		ro.UploadMode = cfg.UploadMode
	}
	if set("upload-chunk-size") && cfg.UploadChunkSize != "" {
		ro.UploadChunkSize = cfg.UploadChunkSize
	}
	if set("prefix") && cfg.Prefix != "" {
		bo.Prefix = cfg.Prefix
	}
	if set("platform") && len(cfg.Platforms) > 0 {
		bo.Platforms = cfg.Platforms
	}
	if set("platform-dir") && len(cfg.PlatformDirs) > 0 {
		bo.PlatformDirs = nil
		for _, d := range cfg.PlatformDirs {
			bo.PlatformDirs = append(bo.PlatformDirs, d.Platform+"="+cfg.Resolve(d.Source))
		}
	}
	if set("compression") && cfg.Compression != "" {
		bo.Compression = cfg.Compression
	}
	if set("layers") && cfg.Layers != "" {
		bo.Layers = cfg.Layers
	}
	bo.Excludes = append(append([]string{}, cfg.Excludes...), bo.Excludes...)
	var ann, labels []string
	for k, v := range cfg.Annotations {
		ann = append(ann, k+"="+v)
	}
	for k, v := range cfg.Labels {
		labels = append(labels, k+"="+v)
	}
	bo.Annotations = append(ann, bo.Annotations...) // flags come last and win
	bo.Labels = append(labels, bo.Labels...)
	if set("push") && cfg.Push {
		to.Push = true
	}
	// Tags from the file only matter when pushing (-t without --push is an error).
	if set("tag") && to.Push && cfg.Repository != "" && len(cfg.Tags) > 0 {
		gd, err := config.Git(cfg.Dir)
		if err != nil {
			return err
		}
		tags, err := cfg.ExpandTags(gd)
		if err != nil {
			return usageError{err}
		}
		to.Tags = tags
	}
	if s := cfg.Sign; s != nil {
		if set("sign") && (s.Key != "" || s.Keyless) {
			*signImage = true
		}
		if set("key") && s.Key != "" {
			so.Key = s.Key
			if !strings.Contains(s.Key, "://") { // a key file, relative to the config; KMS URIs stay as they are
				so.Key = cfg.Resolve(s.Key)
			}
		}
		// --sbom, --sbom-format and --provenance resolve these after the
		// environment (options.Attest.Resolve).
		so.Attest.Config.SBOM, so.Attest.Config.Provenance, so.Attest.Config.SBOMFormat = s.SBOM, s.Provenance, s.SBOMFormat
		if s.AttestFiles && s.SBOM == nil { // deprecated: the SBOM lists every file
			on := true
			so.Attest.Config.SBOM = &on
		}
		if set("tlog-upload") && s.TlogUpload {
			so.TlogUpload = true
		}
	}
	if k := cfg.Kubernetes; k != nil && k.Output != "" && to.Push && set("patch-out") && set("kustomize") {
		if set("workload") {
			po.Workload = k.Workload
		}
		if set("container") && len(k.Containers) > 0 {
			po.Containers = k.Containers
		}
		if set("mount-path") {
			po.MountPath = k.MountPath
		}
		if set("sub-path") && k.SubPath != "" {
			po.SubPath = k.SubPath
		}
		if set("volume-name") && k.VolumeName != "" {
			po.VolumeName = k.VolumeName
		}
		if set("pull-policy") && k.PullPolicy != "" {
			po.PullPolicy = k.PullPolicy
		}
		if set("file") && k.File != "" {
			*patchFile = cfg.Resolve(k.File)
		}
		if k.Format == "kustomize" {
			*kustomize = cfg.Resolve(k.Output)
		} else {
			*patchOut = cfg.Resolve(k.Output)
			if set("patch-format") && k.Format != "" {
				*patchFormat = k.Format
			}
		}
	}
	return nil
}

func newConfig() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Write, check or describe assetpack.yaml",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var output string
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter " + config.FileName,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := os.Stat(output); err == nil && !force {
				return usagef("%s exists; pass --force to overwrite it", output)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := atomicfile.Write(output, []byte(config.Starter), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote %s; edit it, then run 'assetpack build'\n", output)
			return nil
		},
	}
	initCmd.Flags().StringVarP(&output, "output", "o", config.FileName, "file to write")
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file against the schema",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("validate takes at most one FILE")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			p := config.FileName
			if len(args) == 1 {
				p = args[0]
			}
			cfg, err := loadConfig(p, false)
			if err != nil {
				return err
			}
			// The values the schema cannot know, as build checks them.
			_, notes, err := builder.ParsePlatformsWithNotes(cfg.Platforms)
			if err != nil {
				return usagef("%s: platforms: %v", p, err)
			}
			for _, d := range cfg.PlatformDirs {
				_, dn, err := builder.ParsePlatformsWithNotes([]string{d.Platform})
				if err != nil {
					return usagef("%s: platformDirs: %v", p, err)
				}
				notes = append(notes, dn...)
			}
			for _, n := range notes {
				fmt.Fprintf(c.ErrOrStderr(), "note: %s\n", n)
			}
			fmt.Fprintf(c.ErrOrStderr(), "%s is valid\n", p)
			return nil
		},
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of " + config.FileName,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := c.OutOrStdout().Write(config.Schema)
			return err
		},
	}
	c.AddCommand(initCmd, validate, schema)
	return c
}
