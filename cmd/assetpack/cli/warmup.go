package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

func newWarmup() *cobra.Command {
	var (
		wo            options.Warmup
		ro            options.Registry
		pullPolicy    string
		pullSecrets   []string
		requireDigest bool
		quiet         bool
	)
	c := &cobra.Command{
		Use:   "warmup IMAGE",
		Short: "Write a DaemonSet that pulls an image onto every selected node ahead of its workloads",
		Long: `Write a DaemonSet whose Pods mount IMAGE (pinned by digest; a tag is resolved
through the registry) as an image volume in a pause container, so that every
node that the node selector and tolerations allow holds the image before the
workloads that mount it are scheduled: the first model server on a node then
starts without waiting for a pull of many GiB. The Pods request 1m CPU and
4 MiB, run as a non-root user without privileges or a service account token,
and a new digest rolls out to every node at once.

The YAML starts with a readiness note (also printed on stderr): the image's
unpacked size and what containerd keeps of it on each node (the pulled blobs
and the unpacked layers), and with --node-image-fs SIZE what that is of the
nodes' image filesystem against the kubelet's thresholds (image garbage
collection above 85% use, eviction below 15% free). A compressed layer is
read through once to count its unpacked bytes.

Wait for it before scheduling the workloads:
  kubectl rollout status daemonset/NAME`,
		Example: `  assetpack warmup registry.example.com/ml/llama@sha256:… --namespace models \
      --node-selector nvidia.com/gpu.present=true --toleration nvidia.com/gpu:NoSchedule \
      --node-image-fs 200Gi | kubectl apply -f -
  assetpack patch REF --format pod --mount-path /models --warmup --node-image-fs 100Gi`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("warmup needs exactly one image REFERENCE, e.g. registry.example.com/ml/llama@sha256:… (see 'assetpack warmup --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			// Every flag is checked, and every problem reported at once,
			// before the registry is asked anything.
			var errs []error
			ref := args[0]
			local := strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "tar:")
			isDigest := strings.Contains(ref, "@sha256:")
			switch {
			case local:
				errs = append(errs, usagef("%q is a local image: push it first (assetpack push %s REPO:TAG) and warm up the digest reference it prints", ref, ref))
			case !isDigest && requireDigest:
				errs = append(errs, usagef("%q is a tag and --require-digest is set: pass REPO@sha256:HEX", ref))
			}
			w, err := wo.Spec(pullPolicy, pullSecrets)
			if err != nil {
				errs = append(errs, err)
			}
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return err
			}
			spec := pack.Spec{Reference: ref, Registry: reg, Warmup: w}
			if local {
				spec.Reference = validationReference
			}
			if w != nil {
				if err := pack.Check(spec); err != nil {
					errs = append(errs, err)
				}
			}
			if err := usageErrors(errs); err != nil {
				return err
			}
			res, err := pack.Run(c.Context(), spec)
			if err != nil {
				return err
			}
			if !isDigest && !quiet {
				fmt.Fprintf(c.ErrOrStderr(), "resolved %s to %s\n", args[0], res.Reference)
			}
			printWarmupNote(c.ErrOrStderr(), quiet, res.Warmup)
			if res.Warmup.Output == "" {
				_, err = c.OutOrStdout().Write(res.Warmup.Data)
			}
			return err
		},
	}
	wo.AddFlags(c.Flags(), "")
	ro.AddFlags(c.Flags())
	c.Flags().StringVar(&pullPolicy, "pull-policy", string(kube.DefaultPullPolicy), "image volume pull policy: Always, IfNotPresent or Never")
	options.StringArrayVar(c.Flags(), &pullSecrets, "pull-secret", nil, "imagePullSecrets entry of the warm-up Pods (repeatable)")
	c.Flags().BoolVar(&requireDigest, "require-digest", false, "refuse a tag instead of resolving it to a digest")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}

// printWarmupNote prints the readiness note and where the DaemonSet went.
func printWarmupNote(stderr io.Writer, quiet bool, w *pack.WarmupResult) {
	if quiet || w == nil {
		return
	}
	fmt.Fprintln(stderr, "note: "+strings.ReplaceAll(w.Note, "\n", "\nnote: "))
	if w.Output != "" {
		fmt.Fprintf(stderr, "wrote %s\n", w.Output)
	}
}
