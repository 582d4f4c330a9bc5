package options

import (
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

// Patch holds the flags that describe the image volume mount.
type Patch struct {
	Workload        string
	Containers      []string
	MountPath       string
	SubPath         string
	VolumeName      string
	PullPolicy      string
	PullSecrets     []string
	ContainerImage  string
	KustomizeImages bool
}

// AddFlags registers the mount flags.
func (p *Patch) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.Workload, "workload", "", "KIND/NAME of the workload to patch: pod, deployment, statefulset, daemonset, replicaset, job or cronjob (e.g. deployment/web)")
	StringArrayVar(fs, &p.Containers, "container", nil, "container that mounts the volume (repeatable; may be omitted when the workload has one container, in -f or in the YAML files under the directory of the patch or Component written)")
	fs.StringVar(&p.MountPath, "mount-path", "", "absolute path where the containers see the files, e.g. /usr/share/nginx/html")
	fs.StringVar(&p.SubPath, "sub-path", "", "directory of the image to mount (the --prefix it was built with; build defaults it from --prefix)")
	fs.StringVar(&p.VolumeName, "volume-name", kube.DefaultVolumeName, "name of the image volume; pick one the workload does not use yet")
	fs.StringVar(&p.PullPolicy, "pull-policy", string(kube.DefaultPullPolicy), "image volume pull policy: Always, IfNotPresent or Never")
	StringArrayVar(fs, &p.PullSecrets, "pull-secret", nil, "imagePullSecrets entry of the Pod that the pod format writes (repeatable)")
	fs.StringVar(&p.ContainerImage, "container-image", "nginx:stable", "container image of the Pod that the pod format writes")
	fs.BoolVar(&p.KustomizeImages, "kustomize-images", false, "also write an images: entry into the Kustomize Component (rewrites other references to the repository with kustomize ≥ 5.7)")
}

// Patch converts the flags to a pipeline patch request in format, checked
// against the workload manifest (nil: none) and written to output ("" keeps
// it in the result).
func (p *Patch) Patch(format kube.Format, manifest []byte, output string) pack.Patch {
	return pack.Patch{
		Format:          format,
		Workload:        p.Workload,
		Mount:           p.Mount(),
		Manifest:        manifest,
		Output:          output,
		Pod:             kube.PodOptions{Image: p.ContainerImage, PullSecrets: p.PullSecrets},
		KustomizeImages: p.KustomizeImages,
	}
}

// Mount converts the mount flags (the reference is set by the pipeline).
func (p *Patch) Mount() kube.Mount {
	return kube.Mount{
		VolumeName: p.VolumeName,
		PullPolicy: corev1.PullPolicy(p.PullPolicy),
		Containers: p.Containers,
		MountPath:  p.MountPath,
		SubPath:    p.SubPath,
	}
}
