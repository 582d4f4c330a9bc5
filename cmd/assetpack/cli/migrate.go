package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/assetpack/assetpack/kube"
)

func newMigrate() *cobra.Command {
	var (
		file, output, image, subPath, pullPolicy string
		quiet                                    bool
	)
	c := &cobra.Command{
		Use:   "migrate -f MANIFEST",
		Short: "Rewrite the init-container copy pattern into an image volume",
		Long: `Find an init container that copies files from its image into an emptyDir
that the main containers mount (for example command: [sh, -c,
"cp -r /site/* /shared/"]) and rewrite the workload to mount an image volume
instead: same volume name and mount paths, read-only, subPath from the copy
source (/site ⇒ site); the init container and the emptyDir are removed.
The whole manifest is printed on stdout (other documents unchanged); what
changed is listed on stderr. Without --image the init container's image is
mounted as it is; pass --image REPO@sha256:… to mount the content built by
assetpack (with --prefix matching the copy source) instead.`,
		Example: `  assetpack migrate -f deploy.yaml > deploy.migrated.yaml
  assetpack migrate -f deploy.yaml --image registry.example.com/web/site-assets@sha256:…`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("migrate needs the manifest: -f FILE (or -f - for stdin)")
			}
			var in []byte
			var err error
			if file == "-" {
				in, err = io.ReadAll(c.InOrStdin())
			} else {
				in, err = os.ReadFile(file)
			}
			if err != nil {
				return usagef("reading -f %q: %v", file, err)
			}
			out, changes, err := kube.Migrate(in, kube.MigrateOptions{Image: image, SubPath: subPath, PullPolicy: corev1.PullPolicy(pullPolicy)})
			if err != nil {
				return fmt.Errorf("migrating %s: %w", file, err)
			}
			if !quiet {
				for _, ch := range changes {
					fmt.Fprintln(c.ErrOrStderr(), ch)
				}
				fmt.Fprintln(c.ErrOrStderr(), requirementsNote(true))
			}
			if output != "" {
				return kube.WriteFile(output, out)
			}
			_, err = c.OutOrStdout().Write(out)
			return err
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "the manifest to migrate (YAML, several documents allowed; - for stdin)")
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	c.Flags().StringVar(&image, "image", "", "image volume reference to use instead of the init container's image (pin a digest)")
	c.Flags().StringVar(&subPath, "sub-path", "", "sub-path to use instead of the copy source directory")
	c.Flags().StringVar(&pullPolicy, "pull-policy", string(kube.DefaultPullPolicy), "image volume pull policy: Always, IfNotPresent or Never")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}
