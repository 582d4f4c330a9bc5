package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube"
)

// patchRequest is what to write for a pinned reference.
type patchRequest struct {
	format kube.Format
	opts   options.Patch
	file   string // the workload manifest (-f), "" when not given, "-" for stdin
	output string // file (or directory for kustomize); "" for stdout
	quiet  bool
}

// requirementsNote tells where image volumes work.
func requirementsNote(subPath bool) string {
	s := "note: image volumes need Kubernetes ≥ 1.35 (1.33–1.34 with the ImageVolume feature gate on; GA in 1.36) on containerd ≥ 2.1 or CRI-O ≥ 1.31 (not cri-dockerd or kata); they are read-only"
	if subPath {
		s += "; subPath needs Kubernetes ≥ 1.33, containerd ≥ 2.2, CRI-O ≥ 1.33"
	}
	return s
}

// validationRef stands in for the digest when a request is checked before
// the image exists.
const validationRef = "registry.invalid/check@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// check renders req for a stand-in reference into a scratch place, so that
// bad flags fail before anything is built or pushed.
func (req patchRequest) check(stdin io.Reader) error {
	dry := req
	dry.quiet = true
	if dry.format == kube.Kustomize {
		dir, err := os.MkdirTemp("", "assetpack-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dry.output = dir
	} else {
		dry.output = ""
	}
	return writePatch(dry, validationRef, stdin, io.Discard, io.Discard)
}

// writePatch renders req for ref to stdout or req.output.
func writePatch(req patchRequest, ref string, stdin io.Reader, stdout, stderr io.Writer) error {
	m := req.opts.Mount(ref)
	var w kube.Workload
	var err error
	if req.format != kube.PodFormat || req.opts.Workload != "" {
		if req.opts.Workload == "" {
			return usagef("--workload KIND/NAME is required for --format %s (e.g. --workload deployment/web)", req.format)
		}
		if w, err = kube.ParseWorkload(req.opts.Workload); err != nil {
			return err
		}
	}
	var manifest []byte
	switch req.file {
	case "":
	case "-":
		if manifest, err = io.ReadAll(stdin); err != nil {
			return fmt.Errorf("reading the workload manifest from stdin: %w", err)
		}
	default:
		if manifest, err = os.ReadFile(req.file); err != nil {
			return usagef("reading the workload manifest -f %q: %v", req.file, err)
		}
	}
	if manifest != nil && req.format != kube.JSON6902 && req.format != kube.PodFormat {
		if m.Containers, err = kube.CheckAgainst(manifest, w, m); err != nil {
			return err
		}
	}
	var out []byte
	switch req.format {
	case kube.Strategic:
		out, err = kube.StrategicPatch(w, m)
	case kube.JSON6902:
		if manifest == nil {
			return usagef("--format json6902 addresses containers and volumes by index: pass the workload manifest with -f FILE")
		}
		out, err = kube.JSON6902Patch(manifest, w, m)
	case kube.PodFormat:
		name := ""
		if w.Kind.Name == "Pod" {
			name = w.Name
		}
		out, err = kube.PodFor(m, kube.PodOptions{Name: name, Image: req.opts.ContainerImage, PullSecrets: req.opts.PullSecrets})
	case kube.Kustomize:
		if req.output == "" {
			return usagef("--format kustomize writes a Component directory: name it with --output DIR")
		}
		files, err := kube.WriteComponent(req.output, w, m, kube.ComponentOptions{ImagesEntry: req.opts.KustomizeImages})
		if err != nil {
			return err
		}
		if !req.quiet {
			fmt.Fprintf(stderr, "wrote Kustomize Component %s (%s); add it to an overlay with components: [%s]\n", req.output, strings.Join(files, ", "), req.output)
			fmt.Fprintln(stderr, requirementsNote(m.SubPath != ""))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !req.quiet {
		fmt.Fprintln(stderr, requirementsNote(m.SubPath != ""))
	}
	if req.output != "" {
		if err := kube.WriteFile(req.output, out); err != nil {
			return err
		}
		if !req.quiet {
			fmt.Fprintf(stderr, "wrote %s\n", req.output)
		}
		return nil
	}
	_, err = stdout.Write(out)
	return err
}

func newPatch() *cobra.Command {
	var (
		po            options.Patch
		ro            options.Registry
		format        string
		file, output  string
		requireDigest bool
		quiet         bool
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
			f, err := kube.ParseFormat(format)
			if err != nil {
				return err
			}
			if strings.HasPrefix(args[0], "oci:") || strings.HasPrefix(args[0], "tar:") {
				return usagef("%q is a local image: push it first (assetpack push %s REPO:TAG) and patch the digest reference it prints", args[0], args[0])
			}
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return err
			}
			ref, err := reg.ParseReference(args[0])
			if err != nil {
				return usageError{err}
			}
			pinned := ref.String()
			if !strings.Contains(pinned, "@sha256:") {
				if requireDigest {
					return usagef("%q is a tag and --require-digest is set: pass REPO@sha256:HEX", args[0])
				}
				d, err := reg.Resolve(c.Context(), ref)
				if err != nil {
					return err
				}
				pinned = d.String()
				if !quiet {
					fmt.Fprintf(c.ErrOrStderr(), "resolved %s to %s\n", args[0], pinned)
				}
			}
			return writePatch(patchRequest{format: f, opts: po, file: file, output: output, quiet: quiet}, pinned, c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	po.AddFlags(c.Flags())
	ro.AddFlags(c.Flags())
	c.Flags().StringVar(&format, "format", string(kube.Strategic), "strategic, json6902, pod or kustomize")
	c.Flags().StringVarP(&file, "file", "f", "", "the workload manifest (YAML), to check names and clashes; required for json6902; - for stdin")
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file (a directory for --format kustomize) instead of stdout")
	c.Flags().BoolVar(&requireDigest, "require-digest", false, "refuse a tag instead of resolving it to a digest")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return c
}
