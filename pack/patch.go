package pack

import (
	"errors"
	"fmt"
	"os"

	"github.com/assetpack/assetpack/kube"
)

// Patch asks for the Kubernetes objects that mount the image by digest.
type Patch struct {
	// Format is kube.Strategic, kube.JSON6902, kube.PodFormat or
	// kube.Kustomize.
	Format kube.Format
	// Workload is KIND/NAME (e.g. deployment/web); optional for
	// kube.PodFormat, where it names the Pod.
	Workload string
	// Mount describes the volume and its mounts; Run sets its Reference
	// to the pinned digest.
	Mount kube.Mount
	// Manifest is the workload's YAML, to check names against (and to take
	// the container from when it has only one); kube.JSON6902 needs it.
	Manifest []byte
	// Output is the file to write (a Component directory for
	// kube.Kustomize, which needs one); "" keeps the patch in
	// PatchResult.Data only.
	Output string
	// Pod shapes a kube.PodFormat Pod (its Name comes from Workload).
	Pod kube.PodOptions
	// KustomizeImages also writes an images: entry into a Component.
	KustomizeImages bool
}

// PatchResult is one rendered patch.
type PatchResult struct {
	Format kube.Format
	// Output is the file or directory written, or "".
	Output string
	// Files are the files of a Kustomize Component (paths under Output).
	Files []string
	// Data is the patch itself (nil for a Component).
	Data []byte
	// Containers are the containers that mount the volume (from the
	// request, or the workload's only container).
	Containers []string
}

// validationRef stands in for the digest when patches are checked before
// the image exists.
const validationRef = "registry.invalid/check@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// checkPatches checks every patch and renders it for a stand-in reference
// into a scratch place, so that a wrong request fails before anything is
// built or pushed. Every problem is reported, one per line.
func checkPatches(ps []Patch) error {
	var errs []error
	for i, p := range ps {
		if err := checkPatch(i, p); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrors(errs)
}

// checkPatch reports every problem of patch i that needs no manifest at
// once; then, those fixed, what rendering it finds (the containers and
// volumes of the manifest).
func checkPatch(i int, p Patch) error {
	field := func(f string) string { return fmt.Sprintf("Patches[%d].%s", i, f) }
	var errs []error
	if p.Format != kube.PodFormat || p.Workload != "" {
		if p.Workload == "" {
			errs = append(errs, specErr(field("Workload"), "a %s patch needs the workload as KIND/NAME (e.g. deployment/web)", p.Format))
		} else if _, err := kube.ParseWorkload(p.Workload); err != nil {
			errs = append(errs, err)
		}
	}
	m := p.Mount
	m.Reference = validationRef
	if err := m.Check(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case p.Format == kube.JSON6902 && p.Manifest == nil:
		errs = append(errs, specErr(field("Manifest"), "a json6902 patch addresses containers and volumes by index: it needs the workload manifest"))
	case p.Format == kube.Kustomize && p.Output == "":
		errs = append(errs, specErr(field("Output"), "a Kustomize Component is a directory: name it"))
	}
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	dry := p
	if p.Format == kube.Kustomize {
		dir, err := os.MkdirTemp("", "assetpack-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dry.Output = dir
	} else {
		dry.Output = ""
	}
	_, err := render(i, dry, validationRef)
	return err
}

// joinErrors is errors.Join, except that a single error stays itself.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// renderPatches renders every patch for res.Reference into res.Patches.
func renderPatches(ps []Patch, res *Result) error {
	for i, p := range ps {
		pr, err := render(i, p, res.Reference)
		if err != nil {
			if p.Output != "" {
				return fmt.Errorf("writing %s failed: %w", p.Output, err)
			}
			return err
		}
		res.Patches = append(res.Patches, pr)
	}
	return nil
}

// render renders patch i for ref, writing it to p.Output when set.
func render(i int, p Patch, ref string) (PatchResult, error) {
	field := func(f string) string { return fmt.Sprintf("Patches[%d].%s", i, f) }
	m := p.Mount
	m.Reference = ref
	res := PatchResult{Format: p.Format, Output: p.Output}
	var w kube.Workload
	var err error
	if p.Format != kube.PodFormat || p.Workload != "" {
		if p.Workload == "" {
			return res, specErr(field("Workload"), "a %s patch needs the workload as KIND/NAME (e.g. deployment/web)", p.Format)
		}
		if w, err = kube.ParseWorkload(p.Workload); err != nil {
			return res, err
		}
	}
	if p.Manifest != nil && p.Format != kube.JSON6902 && p.Format != kube.PodFormat {
		if m.Containers, err = kube.CheckAgainst(p.Manifest, w, m); err != nil {
			return res, err
		}
	}
	res.Containers = m.Containers
	switch p.Format {
	case kube.Strategic:
		res.Data, err = kube.StrategicPatch(w, m)
	case kube.JSON6902:
		if p.Manifest == nil {
			return res, specErr(field("Manifest"), "a json6902 patch addresses containers and volumes by index: it needs the workload manifest")
		}
		res.Data, err = kube.JSON6902Patch(p.Manifest, w, m)
	case kube.PodFormat:
		o := p.Pod
		if w.Kind.Name == "Pod" {
			o.Name = w.Name
		}
		res.Data, err = kube.PodFor(m, o)
	case kube.Kustomize:
		if p.Output == "" {
			return res, specErr(field("Output"), "a Kustomize Component is a directory: name it")
		}
		res.Files, err = kube.WriteComponent(p.Output, w, m, kube.ComponentOptions{ImagesEntry: p.KustomizeImages})
		return res, err
	default:
		return res, specErr(field("Format"), "unknown format %q: use strategic, json6902, pod or kustomize", p.Format)
	}
	if err != nil {
		return res, err
	}
	if p.Output != "" {
		if err := kube.WriteFile(p.Output, res.Data); err != nil {
			return res, err
		}
	}
	return res, nil
}
