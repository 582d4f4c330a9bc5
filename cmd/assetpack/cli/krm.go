package cli

import (
	"github.com/spf13/cobra"
)

// newKRM is the krm command: krmCommand, with its help.
func newKRM() *cobra.Command {
	c := krmCommand()
	c.Use = "krm [FUNCTION-CONFIG [RESOURCES… | -]]"
	c.Short = "Run as a KRM function (kustomize, kpt): mount an image volume in a workload"
	c.Long = `Run as a KRM function: read a ResourceList on stdin, add the image volume its
functionConfig describes to the workload among its items, and write the
ResourceList back with results (an info result per patched workload, a
warning for a volume or mount it replaced, an error result per problem,
naming the field). With an error result it exits non-zero: 2 for bad input,
1 otherwise. The functionConfig:

  apiVersion: assetpack.dev/v1alpha1
  kind: ImageVolume
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
    containers: [nginx]             # default: the workload's only container
    mountPath: /usr/share/nginx/html
    subPath: site                   # optional; also volumeName, pullPolicy

or a ConfigMap with the same keys under data (containers: "a,b"), which is
what kpt fn eval and kustomize fn run make of "-- key=value" arguments.

List that file under transformers: in a kustomization and run kustomize
build --enable-alpha-plugins --enable-exec, or run
kustomize fn run DIR --enable-exec --fn-path FILE. With arguments it runs
standalone: the functionConfig file, then resource files (- for stdin);
it prints the resources only.`
	c.Example = `  kustomize build --enable-alpha-plugins --enable-exec examples/kustomize-fn
  mkdir -p results && kustomize fn run k8s/ --enable-exec --fn-path examples/kustomize-fn/assets-fn.yaml --results-dir results/
  assetpack krm examples/kustomize-fn/assets-fn.yaml examples/kustomize-fn/deployment.yaml`
	return c
}
