package kubevalidate

import (
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/kube"
)

const ref = "registry.example.com/ml/tiny-llama@sha256:b5d7df8d3d55b55c007a229bd372a4c991878212b1bd15799ae096554ad820c6"

// internal defaults a versioned object as the API server does and
// converts it to the internal type into out.
func internal(t *testing.T, in runtime.Object, out runtime.Object) {
	t.Helper()
	legacyscheme.Scheme.Default(in)
	if err := legacyscheme.Scheme.Convert(in, out, nil); err != nil {
		t.Fatalf("converting %T: %v", in, err)
	}
}

func validateDeployment(t *testing.T, d *appsv1.Deployment) field.ErrorList {
	if d.Namespace == "" {
		d.Namespace = "default" // the request's namespace
	}
	var in apps.Deployment
	internal(t, d, &in)
	return appsvalidation.ValidateDeployment(&in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
}

func validateDaemonSet(t *testing.T, ds *appsv1.DaemonSet) field.ErrorList {
	if ds.Namespace == "" {
		ds.Namespace = "default"
	}
	var in apps.DaemonSet
	internal(t, ds, &in)
	return appsvalidation.ValidateDaemonSet(&in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
}

func validatePod(t *testing.T, p *corev1.Pod) field.ErrorList {
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	var in core.Pod
	internal(t, p, &in)
	// As pkg/registry/core/pod's podStrategy.Validate does.
	opts := podutil.GetValidationOptionsFromPodSpecAndMeta(&in.Spec, nil, &in.ObjectMeta, nil)
	opts.ResourceIsPod = true
	return corevalidation.ValidatePodCreate(&in, opts)
}

func decode(t *testing.T, name string, data []byte, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("%s does not decode strictly: %v\n%s", name, err, data)
	}
}

// TestWarmupDaemonSet: the warm-up DaemonSet, with every option set.
func TestWarmupDaemonSet(t *testing.T) {
	var tols []corev1.Toleration
	for _, s := range []string{"nvidia.com/gpu:NoSchedule", "dedicated=ml:NoExecute", "*"} {
		tol, err := kube.ParseToleration(s)
		if err != nil {
			t.Fatal(err)
		}
		tols = append(tols, tol)
	}
	data, err := kube.WarmupDaemonSet(kube.Warmup{Reference: ref, Namespace: "models",
		NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"}, Tolerations: tols,
		PullSecrets: []string{"regcred"}, PriorityClassName: "system-node-critical",
		Size: &kube.ImageSize{Compressed: 20 << 30, Uncompressed: 20 << 30, Layers: 22}, NodeImageFS: 200 << 30})
	if err != nil {
		t.Fatalf("WarmupDaemonSet() = %v", err)
	}
	var ds appsv1.DaemonSet
	decode(t, "the warm-up DaemonSet", data, &ds)
	if errs := validateDaemonSet(t, &ds); len(errs) > 0 {
		t.Errorf("the API server's validation refuses the warm-up DaemonSet: %v\n%s", errs.ToAggregate(), data)
	}
}

// TestPodFormat: patch --format pod's Pod, with a subPath.
func TestPodFormat(t *testing.T) {
	data, err := kube.PodFor(kube.Mount{Reference: ref, MountPath: "/models/tiny-llama", SubPath: "tiny-llama"}, kube.PodOptions{PullSecrets: []string{"regcred"}})
	if err != nil {
		t.Fatal(err)
	}
	var p corev1.Pod
	decode(t, "the Pod", data, &p)
	if errs := validatePod(t, &p); len(errs) > 0 {
		t.Errorf("the API server's validation refuses the Pod: %v\n%s", errs.ToAggregate(), data)
	}
}

// TestServingExamples: the Deployments of examples/vllm and
// examples/llamacpp with their model-patch.yaml applied as kubectl patch
// --local does, and the Deployment KServe makes of examples/kserve's
// predictor (its pod spec in a pod template).
func TestServingExamples(t *testing.T) {
	examples := filepath.Join("..", "..", "examples")
	for _, dir := range []string{"vllm", "llamacpp"} {
		t.Run(dir, func(t *testing.T) {
			base := read(t, filepath.Join(examples, dir, "k8s", "deployment.yaml"))
			patch := read(t, filepath.Join(examples, dir, "k8s", "model-patch.yaml"))
			merged, err := strategicpatch.StrategicMergePatch(base, patch, appsv1.Deployment{})
			if err != nil {
				t.Fatal(err)
			}
			var d appsv1.Deployment
			decode(t, dir, merged, &d)
			if len(d.Spec.Template.Spec.Volumes) != 1 || d.Spec.Template.Spec.Volumes[0].Image == nil {
				t.Fatalf("%s: no image volume after the patch:\n%s", dir, merged)
			}
			if errs := validateDeployment(t, &d); len(errs) > 0 {
				t.Errorf("the API server's validation refuses %s's Deployment: %v", dir, errs.ToAggregate())
			}
		})
	}
	t.Run("kserve", func(t *testing.T) {
		var isvc struct {
			Spec struct {
				Predictor map[string]any `json:"predictor"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(read(t, filepath.Join(examples, "kserve", "k8s", "inferenceservice.yaml")), &isvc); err != nil {
			t.Fatal(err)
		}
		delete(isvc.Spec.Predictor, "minReplicas") // KServe's, not the pod spec's
		b, _ := yaml.Marshal(isvc.Spec.Predictor)
		var spec corev1.PodSpec
		decode(t, "the predictor", b, &spec)
		labels := map[string]string{"app": "isvc.tiny-llama-predictor"}
		d := appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "tiny-llama-predictor"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
		}
		if errs := validateDeployment(t, &d); len(errs) > 0 {
			t.Errorf("the API server's validation refuses the predictor's pod spec: %v", errs.ToAggregate())
		}
	})
}

// TestRefuses: the validation is on: what a 1.36 API server refuses (see
// FACTS: two sources in one volume, ".." in subPath) is refused here.
func TestRefuses(t *testing.T) {
	data, err := kube.PodFor(kube.Mount{Reference: ref, MountPath: "/m"}, kube.PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(*corev1.Pod){
		"two sources":  func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{} },
		"dotdot":       func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "../x" },
		"no reference": func(p *corev1.Pod) { p.Spec.Volumes[0].Image.Reference = "" },
		"bad policy":   func(p *corev1.Pod) { p.Spec.Volumes[0].Image.PullPolicy = "Sometimes" },
		"bad toleration": func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Value: "b"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var p corev1.Pod
			decode(t, "the Pod", data, &p)
			spoil(&p)
			if errs := validatePod(t, &p); len(errs) == 0 {
				t.Errorf("the Pod with %s passes validation", name)
			}
		})
	}
}

// TestRefusesDaemonSet: a warm-up DaemonSet whose selector does not
// select its Pods is refused, as the API server refuses it.
func TestRefusesDaemonSet(t *testing.T) {
	data, err := kube.WarmupDaemonSet(kube.Warmup{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	decode(t, "the warm-up DaemonSet", data, &ds)
	ds.Spec.Template.Labels = map[string]string{"other": "pods"}
	if errs := validateDaemonSet(t, &ds); len(errs) == 0 {
		t.Error("a DaemonSet that selects none of its Pods passes validation")
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}
