package examples_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/kube"
)

// The serving examples' images are named in their k8s/ files as if pushed
// to this registry; the tests push to an in-process one and compare with
// the host replaced.
const exampleRegistry = "registry.example.com"

// servingExample is a model-serving example: an assetpack.yaml whose
// kubernetes: section patches a Deployment, or a manifest that names the
// image itself (kserve).
type servingExample struct {
	dir, repo string
	// modelFile is the file the server reads, under the mount path.
	modelFile string
}

var servingExamples = []servingExample{
	{"vllm", "ml/tiny-llama", "config.json"},
	{"llamacpp", "ml/tiny-llama-gguf", "tiny-llama.gguf"},
	{"kserve", "ml/tiny-llama", "config.json"},
}

// run runs assetpack in dir and returns its stdout.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("assetpack %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// copyTree copies the example (and, for kserve, vllm's model it points to)
// so that the build writes its patch into the copy, not into the source.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServingExamples builds and pushes each serving example with the
// command of its README (its assetpack.yaml, with the ModelPack twin),
// checks the digest, that the patch its kubernetes: section writes is the
// committed k8s/model-patch.yaml, and renders the workload (the patch
// applied to k8s/deployment.yaml as kubectl patch --local does; kserve's
// manifest as it is): it must decode strictly into the k8s.io/api types,
// pass kube.ValidatePodSpec, pin the digest built, and mount the image so
// that the file the server is told to read is in it.
func TestServingExamples(t *testing.T) {
	host := testregistry.New(t)
	for _, ex := range servingExamples {
		t.Run(ex.dir, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(ex.dir, "expected-digest.txt"))
			if err != nil {
				t.Fatal(err)
			}
			digest := strings.TrimSpace(string(want))
			work := t.TempDir()
			copyTree(t, ".", work) // kserve's assetpack.yaml names ../vllm/model
			dir := filepath.Join(work, ex.dir)
			os.Remove(filepath.Join(dir, "k8s", "model-patch.yaml"))
			out := run(t, dir, "build", "--config", "assetpack.yaml", "--source-date-epoch", "1700000000", "--git=false",
				"-t", host+"/"+ex.repo+":v1", "--push")
			if got, want := strings.TrimSpace(out), host+"/"+ex.repo+"@"+digest; got != want {
				t.Fatalf("build printed %s, want %s (update %s/expected-digest.txt and its k8s/ files only deliberately)", got, want, ex.dir)
			}
			ref := exampleRegistry + "/" + ex.repo + "@" + digest
			var spec *corev1.PodSpec
			if ex.dir == "kserve" {
				spec = kservePodSpec(t, filepath.Join(ex.dir, "k8s", "inferenceservice.yaml"))
			} else {
				got, err := os.ReadFile(filepath.Join(dir, "k8s", "model-patch.yaml"))
				if err != nil {
					t.Fatalf("the kubernetes: section wrote no patch: %v", err)
				}
				got = bytes.ReplaceAll(got, []byte(host), []byte(exampleRegistry))
				committed, _ := os.ReadFile(filepath.Join(ex.dir, "k8s", "model-patch.yaml"))
				if !bytes.Equal(got, committed) {
					t.Errorf("%s/k8s/model-patch.yaml is stale; the build writes:\n%s", ex.dir, got)
				}
				d := renderDeployment(t, filepath.Join(ex.dir, "k8s", "deployment.yaml"), got)
				spec = &d.Spec.Template.Spec
			}
			if err := kube.ValidatePodSpec(spec); err != nil {
				t.Errorf("ValidatePodSpec() = %v", err)
			}
			checkMount(t, ex, spec, ref)
		})
	}
}

// renderDeployment applies patch to the Deployment in file, as kubectl
// patch --local --type strategic does, and decodes the result strictly.
func renderDeployment(t *testing.T, file string, patch []byte) *appsv1.Deployment {
	t.Helper()
	base, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bj, err := yaml.YAMLToJSON(base)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := yaml.YAMLToJSON(patch)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := strategicpatch.StrategicMergePatch(bj, pj, appsv1.Deployment{})
	if err != nil {
		t.Fatalf("applying the patch to %s: %v", file, err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(merged, &d); err != nil {
		t.Fatalf("the patched %s does not decode strictly: %v", file, err)
	}
	return &d
}

// kservePodSpec decodes the predictor of an InferenceService as the pod
// spec KServe makes of it: PredictorSpec inlines a PodSpec beside
// KServe's own fields, which are taken out first (the list is KServe
// v0.20's ComponentExtensionSpec and PredictorSpec, those the example
// uses or may).
func kservePodSpec(t *testing.T, file string) *corev1.PodSpec {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var isvc struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Predictor map[string]any `json:"predictor"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(b, &isvc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if isvc.APIVersion != "serving.kserve.io/v1beta1" || isvc.Kind != "InferenceService" {
		t.Fatalf("%s is a %s %s", file, isvc.APIVersion, isvc.Kind)
	}
	for _, k := range []string{"minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "scaleMetricType", "containerConcurrency",
		"timeout", "canaryTrafficPercent", "logger", "batcher", "labels", "annotations", "deploymentStrategy", "autoScaling", "model", "workerSpec"} {
		delete(isvc.Spec.Predictor, k)
	}
	pj, err := yaml.Marshal(isvc.Spec.Predictor)
	if err != nil {
		t.Fatal(err)
	}
	var spec corev1.PodSpec
	if err := yaml.UnmarshalStrict(pj, &spec); err != nil {
		t.Fatalf("%s: the predictor is not a pod spec: %v", file, err)
	}
	return &spec
}

// checkMount: one container reads the model from a read-only mount of the
// image volume, whose reference is ref, with the image's prefix as
// subPath; the file the server is pointed at is in the model directory.
func checkMount(t *testing.T, ex servingExample, spec *corev1.PodSpec, ref string) {
	t.Helper()
	var vol *corev1.Volume
	for i, v := range spec.Volumes {
		if v.Image != nil {
			vol = &spec.Volumes[i]
		}
	}
	if vol == nil || vol.Image.Reference != ref {
		t.Fatalf("no image volume with reference %s in %+v", ref, spec.Volumes)
	}
	c := spec.Containers[0]
	var m *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == vol.Name {
			m = &c.VolumeMounts[i]
		}
	}
	if m == nil || !m.ReadOnly || m.SubPath != "tiny-llama" {
		t.Fatalf("container %s mounts %+v, want volume %s read-only with subPath tiny-llama", c.Name, c.VolumeMounts, vol.Name)
	}
	path := m.MountPath + "/" + ex.modelFile
	if ex.modelFile == "config.json" {
		path = m.MountPath // a Hugging Face directory
	}
	args := strings.Join(c.Args, " ")
	if !slices.ContainsFunc(c.Args, func(a string) bool { return a == path || strings.HasSuffix(a, "="+path) }) {
		t.Errorf("container %s args %q do not name %s", c.Name, args, path)
	}
	model := "vllm/model"
	if ex.dir == "llamacpp" {
		model = "llamacpp/model"
	}
	if _, err := os.Stat(filepath.Join(model, ex.modelFile)); err != nil {
		t.Errorf("the image lacks %s: %v", ex.modelFile, err)
	}
}
