package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/internal/atomicfile"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

// requirementsNote tells where image volumes work.
func requirementsNote(subPath bool) string {
	s := "note: image volumes need Kubernetes ≥ 1.35 (1.33–1.34 with the ImageVolume feature gate on; GA in 1.36) on containerd ≥ 2.1 or CRI-O ≥ 1.31 (not cri-dockerd or kata); they are read-only"
	if subPath {
		s += "; subPath needs Kubernetes ≥ 1.33, containerd ≥ 2.2, CRI-O ≥ 1.33"
	}
	return s
}

// printPatchNotes says what a rendered patch needs and where it went.
func printPatchNotes(stderr io.Writer, quiet bool, p pack.PatchResult, m kube.Mount) {
	if quiet {
		return
	}
	if p.Format == kube.Kustomize {
		fmt.Fprintf(stderr, "wrote Kustomize Component %s (%s); add it to an overlay with components: [%s]\n", p.Output, strings.Join(p.Files, ", "), p.Output)
	}
	fmt.Fprintln(stderr, requirementsNote(strings.Trim(m.SubPath, "/") != ""))
	if p.Format != kube.Kustomize && p.Output != "" {
		fmt.Fprintf(stderr, "wrote %s\n", p.Output)
	}
}

// patchAdvice turns the pipeline's complaints about a patch request into
// advice about flags: format and output name the flags that chose them.
// Every complaint of a joined error is reworded.
// candidates lists the workloads of -f, for the error that asks for one.
func patchAdvice(err error, format kube.Format, formatFlag, outputFlag, candidates string) error {
	return specAdvice(err, func(se *pack.SpecError) string {
		switch {
		case strings.HasSuffix(se.Field, ".Workload") && candidates != "":
			return fmt.Sprintf("--workload KIND/NAME is required for %s %s: %s", formatFlag, format, candidates)
		case strings.HasSuffix(se.Field, ".Workload"):
			return fmt.Sprintf("--workload KIND/NAME is required for %s %s (e.g. --workload deployment/web)", formatFlag, format)
		case strings.HasSuffix(se.Field, ".Manifest"):
			return fmt.Sprintf("%s json6902 addresses containers and volumes by index: pass the workload manifest with -f FILE", formatFlag)
		case strings.HasSuffix(se.Field, ".Output"):
			return fmt.Sprintf("%s kustomize writes a Component directory: name it with %s DIR", formatFlag, outputFlag)
		}
		return ""
	})
}

// specAdvice rewords each *pack.SpecError in err with advice (which returns
// "" to keep the pipeline's words); a SpecError is a usage error.
func specAdvice(err error, advice func(*pack.SpecError) string) error {
	ses := all[*pack.SpecError](err)
	if len(ses) == 0 {
		return err
	}
	msg := err.Error()
	for _, se := range ses {
		if a := advice(se); a != "" {
			msg = strings.Replace(msg, se.Error(), a, 1)
		}
	}
	return usageError{&flagAdvice{msg: msg, err: err}}
}

// defaultWorkload takes the only workload of the manifest given with -f
// (file) as --workload when none was given, and returns the note that says
// so; with several, it returns them as candidates for the error that asks
// for one.
func defaultWorkload(po *options.Patch, manifest []byte, file string) (note, candidates string) {
	if po.Workload != "" || manifest == nil {
		return "", ""
	}
	ws, err := kube.WorkloadsIn(manifest)
	if err != nil || len(ws) == 0 {
		return "", "" // the checks that follow say what is wrong
	}
	if file == "-" {
		file = "stdin"
	}
	if len(ws) == 1 {
		po.Workload = ws[0].String()
		return fmt.Sprintf("note: --workload %s, the only workload in %s", po.Workload, file), ""
	}
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.String()
	}
	return "", fmt.Sprintf("%s has %d workloads (%s): name one", file, len(ws), strings.Join(names, ", "))
}

// usageErrors joins errs, one per line, as a usage error (nil for none).
func usageErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return usageError{errs[0]}
	}
	return usageError{errors.Join(errs...)}
}

// validationReference stands in for a reference that is already known to
// be wrong, so that the other flags are still checked.
const validationReference = "registry.invalid/check@sha256:0000000000000000000000000000000000000000000000000000000000000000"

func newPatch() *cobra.Command {
	var (
		po            options.Patch
		ro            options.Registry
		format        string
		file, output  string
		requireDigest bool
		quiet         bool
		warmup        bool
		wo            options.Warmup
	)
	c := &cobra.Command{
		Use:   "patch REFERENCE",
		Short: "Write the Kubernetes patch, Pod or Kustomize Component that mounts an image as a volume",
		Long: `Write what a workload needs to mount REFERENCE as a read-only image volume,
pinned by digest: a strategic-merge patch (default), a JSON6902 patch, a
complete Pod, or a Kustomize Component. A tag is resolved to its digest
through the registry (or refused with --require-digest).

Formats:
  strategic  patch for kubectl patch / kustomize patches:; adds a new volume
  json6902   RFC 6902 operations; needs -f WORKLOAD.yaml; can replace a volume
             of the same name (e.g. the emptyDir of an init-container copy)
  pod        a complete Pod for a quick try (kubectl apply -f -)
  kustomize  a Component directory (kustomization.yaml + patch) for --output DIR

--warmup adds the warm-up DaemonSet of assetpack warmup (its flags:
--node-selector, --toleration, --pause-image, --node-image-fs, --warmup-name,
--warmup-namespace, --warmup-output), with the readiness note; --pull-policy
and --pull-secret apply to it too.

Image volumes need Kubernetes ≥ 1.35 (GA in 1.36) on containerd ≥ 2.1 or
CRI-O ≥ 1.31; subPath needs Kubernetes ≥ 1.33, containerd ≥ 2.2, CRI-O ≥ 1.33.`,
		Example: `  assetpack patch registry.example.com/web/site-assets@sha256:… --workload deployment/web \
      --container nginx --mount-path /usr/share/nginx/html --sub-path site
  assetpack patch REF --workload deployment/web --mount-path /srv --format json6902 -f deploy.yaml
  assetpack patch REF --format pod --mount-path /usr/share/nginx/html | kubectl apply -f -
  assetpack patch REF --workload deployment/web --container nginx --mount-path /data --format kustomize --output k8s/assets`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("patch needs exactly one image REFERENCE, e.g. registry.example.com/web/site-assets@sha256:… (see 'assetpack patch --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			// Every flag is checked, and every problem reported at once,
			// before the registry is asked anything.
			var errs []error
			f, err := kube.ParseFormat(format)
			if err != nil {
				errs = append(errs, err)
			}
			ref := args[0]
			local := strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "tar:")
			isDigest := strings.Contains(ref, "@sha256:")
			switch {
			case local:
				errs = append(errs, usagef("%q is a local image: push it first (assetpack push %s REPO:TAG) and patch the digest reference it prints", ref, ref))
			case !isDigest && requireDigest:
				errs = append(errs, usagef("%q is a tag and --require-digest is set: pass REPO@sha256:HEX", ref))
			}
			var manifest []byte
			switch file {
			case "":
			case "-":
				if manifest, err = io.ReadAll(c.InOrStdin()); err != nil {
					return fmt.Errorf("reading the workload manifest from stdin: %w", err)
				}
			default:
				if manifest, err = os.ReadFile(file); err != nil {
					errs = append(errs, usagef("reading the workload manifest -f %q: %v", file, err))
				}
			}
			var note, candidates, hint string
			if f != kube.PodFormat {
				note, candidates = defaultWorkload(&po, manifest, file)
			}
			if manifest == nil && output != "" && f != "" {
				note, hint = defaultContainer(&po, f, output)
			}
			var w *pack.Warmup
			if !warmup {
				for _, fl := range []string{"node-selector", "toleration", "pause-image", "priority-class", "node-image-fs", "warmup-name", "warmup-namespace", "warmup-output"} {
					if c.Flags().Changed(fl) {
						errs = append(errs, usagef("--%s shapes the warm-up DaemonSet: add --warmup", fl))
					}
				}
			}
			if warmup {
				if wo.Output == "" && f != kube.PodFormat {
					errs = append(errs, usagef("--warmup with --format %s needs --warmup-output FILE: the DaemonSet is an object of its own (only --format pod adds it to its output, as a second YAML document)", f))
				}
				if w, err = wo.Spec(po.PullPolicy, po.PullSecrets); err != nil {
					errs = append(errs, err)
				}
			}
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return err
			}
			req := po.Patch(f, manifest, output)
			spec := pack.Spec{Reference: ref, Registry: reg, Patches: []pack.Patch{req}, Warmup: w}
			if local {
				spec.Reference = validationReference
			}
			if f != "" {
				if err := pack.Check(spec); err != nil {
					errs = append(errs, withContainerHint(patchAdvice(err, f, "--format", "--output", candidates), hint))
				}
			} else {
				m := req.Mount // no format to check against: the mount alone
				m.Reference = validationReference
				if err := m.Check(); err != nil {
					errs = append(errs, err)
				}
			}
			if err := usageErrors(errs); err != nil {
				return err
			}
			printNotes(c.ErrOrStderr(), quiet, []string{note})
			res, err := pack.Run(c.Context(), spec)
			if err != nil {
				return patchAdvice(err, f, "--format", "--output", candidates)
			}
			if !isDigest && !quiet {
				fmt.Fprintf(c.ErrOrStderr(), "resolved %s to %s\n", args[0], res.Reference)
			}
			p := res.Patches[0]
			printPatchNotes(c.ErrOrStderr(), quiet, p, req.Mount)
			printWarmupNote(c.ErrOrStderr(), quiet, res.Warmup)
			data := p.Data
			if w != nil && w.Output == "" { // --format pod: one stream, two documents
				data = append(append(append([]byte{}, data...), "---\n"...), res.Warmup.Data...)
			}
			if p.Output == "" {
				_, err = c.OutOrStdout().Write(data)
			} else if len(data) > len(p.Data) {
				err = atomicfile.Write(p.Output, data, 0o644)
			}
			return err
		},
	}
	po.AddFlags(c.Flags())
	ro.AddFlags(c.Flags())
	c.Flags().StringVar(&format, "format", string(kube.Strategic), "strategic, json6902, pod or kustomize")
	c.Flags().StringVarP(&file, "file", "f", "", "the workload manifest (YAML), to check names and clashes; required for json6902; - for stdin")
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file (a directory for --format kustomize) instead of stdout")
	c.Flags().BoolVar(&requireDigest, "require-digest", false, "refuse a tag instead of resolving it to a digest")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	c.Flags().BoolVar(&warmup, "warmup", false, "also write the warm-up DaemonSet that pulls the image onto every selected node ahead of the workload (see assetpack warmup): after the Pod of --format pod, else to --warmup-output")
	wo.AddFlags(c.Flags(), "warmup-")
	return c
}
