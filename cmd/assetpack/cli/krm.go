package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/kube"
)

func newKRM() *cobra.Command {
	return &cobra.Command{
		Use:   "krm",
		Short: "Run as a Kustomize (KRM) function: add an image volume to a workload",
		Long: `Read a KRM ResourceList on stdin and write it back with the image volume
described by its functionConfig added to the workload:

  apiVersion: ` + kube.FunctionAPIVersion + `
  kind: ` + kube.FunctionKind + `
  metadata:
    name: assets
    annotations:
      config.kubernetes.io/function: |
        exec:
          path: assetpack
          args: [krm]
  spec:
    image: REPO@sha256:…            # pinned digest
    workload: deployment/web
    containers: [nginx]
    mountPath: /usr/share/nginx/html
    subPath: site                   # optional; also volumeName, pullPolicy

List that file under transformers: in a kustomization and run
kustomize build --enable-alpha-plugins --enable-exec.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			in, err := io.ReadAll(c.InOrStdin())
			if err != nil {
				return fmt.Errorf("reading the ResourceList: %w", err)
			}
			out, err := kube.Function(in)
			if err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(out)
			return err
		},
	}
}
