package options

import (
	"fmt"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
)

// Warmup holds the flags of the warm-up DaemonSet (assetpack warmup, and
// patch --warmup, where the name, namespace and output flags are
// prefixed with warmup-).
type Warmup struct {
	Name          string
	Namespace     string
	NodeSelector  []string
	Tolerations   []string
	PauseImage    string
	PriorityClass string
	NodeImageFS   string
	Output        string
}

// AddFlags registers the flags; prefix ("" or "warmup-") goes before
// name, namespace and output.
func (w *Warmup) AddFlags(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&w.Name, prefix+"name", "", "name of the warm-up DaemonSet (default: the repository's last path element and -warmup)")
	fs.StringVar(&w.Namespace, prefix+"namespace", "", "namespace of the warm-up DaemonSet (default: none written, kubectl's current namespace)")
	StringArrayVar(fs, &w.NodeSelector, "node-selector", nil, "KEY=VALUE label of the nodes to warm up, such as nvidia.com/gpu.present=true (repeatable; default every node the tolerations allow)")
	StringArrayVar(fs, &w.Tolerations, "toleration", nil, "KEY[=VALUE][:EFFECT] taint the warm-up Pods tolerate, such as nvidia.com/gpu:NoSchedule; * tolerates every taint (repeatable)")
	fs.StringVar(&w.PauseImage, "pause-image", kube.DefaultPauseImage, "the container that sleeps in each warm-up Pod (most nodes hold the default already as their sandbox image)")
	fs.StringVar(&w.PriorityClass, "priority-class", "", "priorityClassName of the warm-up Pods")
	fs.StringVar(&w.NodeImageFS, "node-image-fs", "", "size of the nodes' image filesystem, such as 200Gi or 500G, for the readiness note (what the image takes of it against the kubelet's garbage-collection and eviction thresholds)")
	fs.StringVarP(&w.Output, prefix+"output", map[string]string{"": "o"}[prefix], "", "write the DaemonSet to this file instead of stdout")
}

// Spec converts the flags, with the image volume's pull policy and the
// pull secrets of the command.
func (w *Warmup) Spec(pullPolicy string, pullSecrets []string) (*pack.Warmup, error) {
	kw := kube.Warmup{Name: w.Name, Namespace: w.Namespace, PauseImage: w.PauseImage, PullPolicy: corev1.PullPolicy(pullPolicy),
		PullSecrets: pullSecrets, PriorityClassName: w.PriorityClass}
	if len(w.NodeSelector) > 0 {
		sel, err := builder.ParseKeyValues("--node-selector", w.NodeSelector)
		if err != nil {
			return nil, err
		}
		kw.NodeSelector = sel
	}
	for _, s := range w.Tolerations {
		t, err := kube.ParseToleration(s)
		if err != nil {
			return nil, err
		}
		kw.Tolerations = append(kw.Tolerations, t)
	}
	if w.NodeImageFS != "" {
		q, err := resource.ParseQuantity(w.NodeImageFS)
		if err != nil || q.Sign() <= 0 {
			return nil, fmt.Errorf("--node-image-fs %q: want a size such as 200Gi, 500G or 1Ti", w.NodeImageFS)
		}
		kw.NodeImageFS = q.Value()
	}
	return &pack.Warmup{Warmup: kw, Output: w.Output}, nil
}
