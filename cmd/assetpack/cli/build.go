package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

func newBuild() *cobra.Command {
	var (
		bo     options.Build
		out    options.Output
		stderr io.Writer
	)
	c := &cobra.Command{
		Use:   "build DIR",
		Short: "Pack a directory into a deterministic OCI image",
		Long: `Pack DIR into a FROM-scratch OCI image whose digest depends only on the files
(names, bytes, exec bits, symlinks) and the options, never on mtimes, umask,
owners, creation order, time zone or locale.

Without --output the image is written as an OCI image layout to
./` + options.DefaultOutputDir + `/<name of DIR>. stdout gets one line, the digest reference
(oci:PATH@sha256:...), or a JSON object with --json.`,
		Example: `  assetpack build ./site
  assetpack build ./site --output oci:out/site
  assetpack build ./site --output tar:site.tar --prefix site
  assetpack build ./model --prefix /model --compression zstd --json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("build needs exactly one directory, got %d arguments (see 'assetpack build --help')", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			stderr = c.ErrOrStderr()
			src := args[0]
			opts, err := bo.BuilderOptions()
			if err != nil {
				return err
			}
			t, err := bo.Target(src)
			if err != nil {
				return err
			}
			o, err := publish.NewOutput(t)
			if err != nil {
				return err
			}
			defer o.Close()
			opts = append(opts, builder.WithWorkDir(o.WorkDir()), builder.WithSkipPaths(o.SkipPaths()...))
			res, err := builder.Build(c.Context(), src, opts...)
			if err != nil {
				return err
			}
			defer res.Close()
			if err := o.Write(c.Context(), res.Artifact(), "latest"); err != nil {
				return fmt.Errorf("writing %s: %w", t, err)
			}
			if err := o.Commit(); err != nil {
				return err
			}
			ref := fmt.Sprintf("%s@%s", t, res.Digest)
			if !out.Quiet {
				fmt.Fprintf(stderr, "wrote %s (%s)\n", t, summary(res))
			}
			return printResult(c.OutOrStdout(), out, ref, res.Digest.String(), newBuildJSON(ref, t.String(), res))
		},
	}
	bo.AddFlags(c.Flags())
	out.AddFlags(c.Flags())
	return c
}

func summary(res *builder.Result) string {
	var blobBytes int64
	for _, l := range res.Layers {
		sz, _ := l.Size()
		blobBytes += sz
	}
	s := fmt.Sprintf("%d files, %s", res.Files, humanBytes(res.FileBytes))
	if len(res.Layers) == 1 {
		s += ", 1 layer"
	} else {
		s += fmt.Sprintf(", %d layers", len(res.Layers))
	}
	s += fmt.Sprintf(" of %s", humanBytes(blobBytes))
	if len(res.Platforms) > 1 {
		s += fmt.Sprintf(", %d platforms", len(res.Platforms))
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// writeFileAtomic writes data to path through a temporary sibling.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
