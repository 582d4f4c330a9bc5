package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/internal/lazyre"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

func newResolve() *cobra.Command {
	var (
		files      []string
		repository string
		tag        string
		bo         options.Build
		ro         options.Registry
		quiet      bool
		progress   string
	)
	c := &cobra.Command{
		Use:   "resolve -f FILE|DIR",
		Short: "Build and push every assetpack://DIR in Kubernetes YAML and replace it by its digest",
		Long: `Read YAML (files, or every *.yaml and *.yml below a directory), build and
push each directory named by a string value "assetpack://DIR" (relative to
the current directory), and print the YAML with each placeholder replaced by
the pushed digest reference, like ko's ko://. Each directory is pushed to
REPOSITORY/<directory name>:TAG, where REPOSITORY comes from --repository or
$ASSETPACK_REPOSITORY. Comments and key order are kept.`,
		Example: `  # k8s/web.yaml:  volumes: [{name: assets, image: {reference: assetpack://./site}}]
  ASSETPACK_REPOSITORY=registry.example.com/web assetpack resolve -f k8s/ | kubectl apply -f -`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stderr := c.Context(), c.ErrOrStderr()
			// Every flag is checked, and every problem reported at once,
			// before anything is built or pushed.
			var errs []error
			if len(files) == 0 {
				errs = append(errs, usagef("resolve needs YAML to read: -f FILE or -f DIR"))
			}
			if repository == "" {
				repository = os.Getenv("ASSETPACK_REPOSITORY")
			}
			repository = strings.TrimSuffix(repository, "/")
			reg, finish, err := newRegistry(ro, quiet, stderr)
			if err != nil {
				return err
			}
			defer finish()
			if repository == "" {
				errs = append(errs, usagef("resolve needs a repository to push to: --repository REGISTRY/PATH or ASSETPACK_REPOSITORY"))
			} else if _, err := reg.ParseTag(repository + "/" + repoName("assets") + ":" + tag); err != nil {
				errs = append(errs, usagef("--repository %q with --tag %q: %v", repository, tag, err))
			}
			paths, err := yamlFiles(files)
			if err != nil {
				errs = append(errs, err)
			}
			im, err := bo.Image()
			if err != nil {
				errs = append(errs, err)
			}
			if err := checkProgress(progress); err != nil {
				errs = append(errs, err)
			}
			if err := usageErrors(errs); err != nil {
				return err
			}
			printNotes(stderr, quiet, bo.Notes)
			built := map[string]string{} // across files: each directory is built once
			build := func(dir string) (string, error) {
				if ref, ok := built[filepath.Clean(dir)]; ok {
					return ref, nil
				}
				t, err := reg.ParseTag(repository + "/" + repoName(dir) + ":" + tag)
				if err != nil {
					return "", usageError{err}
				}
				// The pipeline uploads each layer while the others are built.
				view := newProgressView(progress, quiet, stderr)
				res, err := pack.Run(ctx, pack.Spec{Source: dir, Image: im, Tags: []string{t.String()}, Registry: reg, Progress: view.update})
				view.close()
				if err != nil {
					return "", err
				}
				defer res.Close()
				warnCache(stderr, quiet, res.Build)
				if !quiet {
					fmt.Fprintf(stderr, "%s%s → %s\n", kube.Scheme, dir, res.Reference)
				}
				built[filepath.Clean(dir)] = res.Reference
				return res.Reference, nil
			}
			var docs []string
			for _, p := range paths {
				in, err := os.ReadFile(p)
				if err != nil {
					return usagef("reading %q: %v", p, err)
				}
				out, _, err := kube.Resolve(in, build)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				docs = append(docs, strings.TrimSuffix(string(out), "\n")+"\n")
			}
			_, err = fmt.Fprint(c.OutOrStdout(), strings.Join(docs, "---\n"))
			return err
		},
	}
	options.StringArrayVarP(c.Flags(), &files, "file", "f", nil, "YAML file, or directory searched for *.yaml and *.yml (repeatable)")
	c.Flags().StringVar(&repository, "repository", "", "where to push: REGISTRY/PATH; each directory goes to REGISTRY/PATH/<directory name> (default $ASSETPACK_REPOSITORY)")
	c.Flags().StringVar(&tag, "tag", "latest", "tag to push each directory under (the YAML gets the digest)")
	bo = options.DefaultBuild()
	c.Flags().StringVar(&bo.Compression, "compression", string(builder.Auto), "layer compression: auto, gzip, zstd or none")
	c.Flags().StringSliceVar(&bo.Platforms, "platform", []string{"linux/amd64"}, "platform(s) to declare")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	ro.AddPushFlags(c.Flags())
	addProgressFlag(c.Flags(), &progress)
	return c
}

var notRepoChars = lazyre.New(`[^a-z0-9._-]+`)

// repoName turns a directory into a repository path component.
func repoName(dir string) string {
	n := strings.Trim(notRepoChars().ReplaceAllString(strings.ToLower(options.DefaultName(dir)), "-"), "-._")
	if n == "" {
		return "assets"
	}
	return n
}

// yamlFiles expands directories into their *.yaml and *.yml files, sorted.
func yamlFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, usagef("-f %q: %v", a, err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				found = append(found, p)
			}
			return nil
		})
		sort.Strings(found)
		if len(found) == 0 {
			return nil, usagef("-f %q: no *.yaml or *.yml files in it", a)
		}
		out = append(out, found...)
	}
	return out, nil
}
