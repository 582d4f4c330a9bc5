//go:build !lite

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

// krmCommand is the krm command without its texts (newKRM sets them): kyaml's
// framework command around assetpack's function.
func krmCommand() *cobra.Command {
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
	if f := c.Flags().Lookup("stack"); f != nil {
		f.Hidden = true // kyaml's --stack: stack traces of kyaml errors
	}
	ro.AddFlags(c.Flags())
	return c
}
