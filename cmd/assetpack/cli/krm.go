package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/fn/framework/command"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube/krmfn"
	"github.com/assetpack/assetpack/pack"
)

func newKRM() *cobra.Command {
	var ro options.Registry
	var c *cobra.Command
	fn := krmfn.Function{
		// The pipeline pins the image: a digest reference as it is, a tag
		// through the registry (resolved once, when the function runs).
		Pin: func(image string) (string, error) {
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return "", err
			}
			res, err := pack.Run(c.Context(), pack.Spec{Reference: image, Registry: reg})
			if err != nil {
				return "", err
			}
			return res.Reference, nil
		},
	}
	// kyaml's framework reads the ResourceList, runs the function and writes
	// the items and results back; error results also come back as the error,
	// which the CLI prints once. Warnings are printed here too, on stderr,
	// which kustomize and kpt show to the user.
	p := framework.ResourceListProcessorFunc(func(rl *framework.ResourceList) error {
		err := fn.Process(rl)
		for _, r := range rl.Results {
			if r.Severity == framework.Warning {
				fmt.Fprintf(c.ErrOrStderr(), "assetpack: warning: %s\n", r.Message)
			}
		}
		return err
	})
	c = command.Build(p, command.StandaloneEnabled, true)
	c.Use = "krm [FUNCTION-CONFIG [RESOURCES… | -]]"
	c.Short = "Run as a KRM function (kustomize, kpt): mount an image volume in a workload"
	c.Long = `Run as a KRM function: read a ResourceList on stdin, add the image volume its
functionConfig describes to the workload among its items, and write the
ResourceList back with results (an info result per patched workload, a
warning for a volume or mount it replaced, an error result per problem,
naming the field). With an error result it exits non-zero: 2 for bad input,
1 otherwise. The functionConfig:

  apiVersion: ` + krmfn.FunctionAPIVersion + `
  kind: ` + krmfn.FunctionKind + `
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
	if f := c.Flags().Lookup("stack"); f != nil {
		f.Hidden = true // kyaml's --stack: stack traces of kyaml errors
	}
	ro.AddFlags(c.Flags())
	return c
}
