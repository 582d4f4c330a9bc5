package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

func newKRM() *cobra.Command {
	var ro options.Registry
	c := &cobra.Command{
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
    image: REPO@sha256:…            # a tag is resolved to its digest through the registry
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
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return err
			}
			// The pipeline pins the image: a digest reference as it is, a
			// tag through the registry.
			pin := func(image string) (string, error) {
				res, err := pack.Run(c.Context(), pack.Spec{Reference: image, Registry: reg})
				if err != nil {
					return "", err
				}
				return res.Reference, nil
			}
			out, err := kube.FunctionWith(in, pin)
			if err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(out)
			return err
		},
	}
	ro.AddFlags(c.Flags())
	return c
}
