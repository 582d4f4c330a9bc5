package kube_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/kube"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/kube")

const ref = "registry.example.com/web/site-assets@sha256:4f9d2b1c5e8a7f6d3c2b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("..", "testdata", "kube", name)
	if *update {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./kube -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// strict decodes YAML into a typed object, rejecting unknown fields.
func strict(t *testing.T, data []byte, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("strict decoding into %T: %v\n%s", obj, err, data)
	}
}

// base is a workload of the given kind with two containers and a volume.
func base(t *testing.T, kind kube.Kind) []byte {
	t.Helper()
	spec := map[string]any{
		"containers": []any{
			map[string]any{"name": "nginx", "image": "nginx:1.29", "ports": []any{map[string]any{"containerPort": 80}},
				"volumeMounts": []any{map[string]any{"name": "cache", "mountPath": "/var/cache/nginx"}}},
			map[string]any{"name": "sidecar", "image": "busybox:1.37", "command": []any{"sleep", "infinity"}},
		},
		"volumes": []any{map[string]any{"name": "cache", "emptyDir": map[string]any{}}},
	}
	tmpl := map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}}, "spec": spec}
	obj := map[string]any{"apiVersion": kind.APIVersion, "kind": kind.Name, "metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}}}
	switch kind.Name {
	case "Pod":
		obj["spec"] = spec
	case "CronJob":
		spec["restartPolicy"] = "OnFailure"
		obj["spec"] = map[string]any{"schedule": "0 * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}
	case "Job":
		spec["restartPolicy"] = "OnFailure"
		obj["spec"] = map[string]any{"template": tmpl}
	default:
		obj["spec"] = map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "template": tmpl}
	}
	if kind.Name == "StatefulSet" {
		obj["spec"].(map[string]any)["serviceName"] = "web"
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mount() kube.Mount {
	return kube.Mount{Reference: ref, Containers: []string{"nginx"}, MountPath: "/usr/share/nginx/html", SubPath: "site"}
}

// podSpec extracts the pod spec of a typed workload.
func podSpec(t *testing.T, kind kube.Kind, data []byte) *corev1.PodSpec {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	var cur any = obj
	for _, p := range kind.SpecPath {
		cur = cur.(map[string]any)[p]
	}
	b, _ := json.Marshal(cur)
	var spec corev1.PodSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	return &spec
}

func TestStrategicPatchEveryKind(t *testing.T) {
	for _, k := range kube.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			w := kube.Workload{Kind: k, Name: "web"}
			patch, err := kube.StrategicPatch(w, mount())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "strategic-"+strings.ToLower(k.Name)+".yaml", patch)
			typed, _ := kube.NewObject(k.Name)
			strict(t, patch, typed)

			// Apply it with Kubernetes' own strategic-merge implementation: the
			// rest of the workload is intact and the volume appears once.
			orig := base(t, k)
			origJSON, _ := yaml.YAMLToJSON(orig)
			patchJSON, _ := yaml.YAMLToJSON(patch)
			typed2, _ := kube.NewObject(k.Name)
			merged, err := strategicpatch.StrategicMergePatch(origJSON, patchJSON, typed2)
			if err != nil {
				t.Fatalf("StrategicMergePatch: %v", err)
			}
			mergedYAML, _ := yaml.JSONToYAML(merged)
			sameExceptMount(t, k, orig, mergedYAML)
			typed3, _ := kube.NewObject(k.Name)
			strict(t, mergedYAML, typed3)
			spec := podSpec(t, k, mergedYAML)
			if err := kube.ValidatePodSpec(spec); err != nil {
				t.Errorf("merged pod spec: %v", err)
			}
			checkMerged(t, spec)
		})
	}
}

// checkMerged asserts the image volume and mount were added once and the
// original volume, containers and fields were kept.
func checkMerged(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	var images, caches int
	for _, v := range spec.Volumes {
		switch {
		case v.Name == "assets" && v.Image != nil && v.Image.Reference == ref && v.Image.PullPolicy == corev1.PullIfNotPresent:
			images++
		case v.Name == "cache" && v.EmptyDir != nil:
			caches++
		default:
			t.Errorf("unexpected volume %+v", v)
		}
	}
	if images != 1 || caches != 1 {
		t.Errorf("volumes: %d image, %d cache; want one each", images, caches)
	}
	if len(spec.Containers) != 2 || spec.Containers[0].Image != "nginx:1.29" || spec.Containers[1].Image != "busybox:1.37" {
		t.Fatalf("containers changed: %+v", spec.Containers)
	}
	nginx := spec.Containers[0]
	if len(nginx.VolumeMounts) != 2 || len(nginx.Ports) != 1 {
		t.Errorf("nginx mounts/ports = %+v / %+v", nginx.VolumeMounts, nginx.Ports)
	}
	found := false
	for _, m := range nginx.VolumeMounts {
		if m.Name == "assets" {
			found = m.MountPath == "/usr/share/nginx/html" && m.SubPath == "site" && m.ReadOnly
		}
	}
	if !found {
		t.Errorf("nginx lacks the image volume mount: %+v", nginx.VolumeMounts)
	}
	if len(spec.Containers[1].VolumeMounts) != 0 {
		t.Errorf("sidecar got mounts: %+v", spec.Containers[1].VolumeMounts)
	}
}

// sameExceptMount requires patched to equal orig once the "assets" volume
// and mounts are taken out again: nothing else may change.
func sameExceptMount(t *testing.T, k kube.Kind, orig, patched []byte) {
	t.Helper()
	var a, b map[string]any
	yaml.Unmarshal(orig, &a)
	yaml.Unmarshal(patched, &b)
	var spec any = b
	for _, p := range k.SpecPath {
		spec = spec.(map[string]any)[p]
	}
	sm := spec.(map[string]any)
	var vols []any
	for _, v := range sm["volumes"].([]any) {
		if v.(map[string]any)["name"] != "assets" {
			vols = append(vols, v)
		}
	}
	sm["volumes"] = vols
	for _, c := range sm["containers"].([]any) {
		cm := c.(map[string]any)
		var ms []any
		for _, m := range asList(cm["volumeMounts"]) {
			if m.(map[string]any)["name"] != "assets" {
				ms = append(ms, m)
			}
		}
		if ms == nil {
			delete(cm, "volumeMounts")
		} else {
			cm["volumeMounts"] = ms
		}
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("the patch changed more than the image volume:\n%s\nvs\n%s", ja, jb)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestJSON6902EveryKind(t *testing.T) {
	for _, k := range kube.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			w := kube.Workload{Kind: k, Name: "web"}
			orig := base(t, k)
			ops, err := kube.JSON6902Patch(orig, w, mount())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "json6902-"+strings.ToLower(k.Name)+".yaml", ops)
			var decoded []kube.Op
			strict(t, ops, &decoded)
			opsJSON, _ := yaml.YAMLToJSON(ops)
			p, err := jsonpatch.DecodePatch(opsJSON)
			if err != nil {
				t.Fatal(err)
			}
			origJSON, _ := yaml.YAMLToJSON(orig)
			out, err := p.Apply(origJSON)
			if err != nil {
				t.Fatalf("applying the JSON6902 patch: %v", err)
			}
			outYAML, _ := yaml.JSONToYAML(out)
			sameExceptMount(t, k, orig, outYAML)
			typed, _ := kube.NewObject(k.Name)
			strict(t, outYAML, typed)
			spec := podSpec(t, k, outYAML)
			if err := kube.ValidatePodSpec(spec); err != nil {
				t.Error(err)
			}
			checkMerged(t, spec)
		})
	}
}

// A JSON6902 patch replaces a volume of the same name whatever its source,
// which a strategic-merge patch cannot do.
func TestJSON6902ReplacesVolume(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	w := kube.Workload{Kind: k, Name: "web"}
	m := mount()
	m.VolumeName = "cache"
	m.MountPath = "/var/cache/nginx"
	orig := base(t, k)
	if _, err := kube.CheckAgainst(orig, w, m); !errors.Is(err, kube.ErrInvalid) || !strings.Contains(err.Error(), "replace it with JSON6902Patch") {
		t.Errorf("CheckAgainst(clash) = %v, want an error pointing at JSON6902Patch", err)
	}
	ops, err := kube.JSON6902Patch(orig, w, m)
	if err != nil {
		t.Fatal(err)
	}
	opsJSON, _ := yaml.YAMLToJSON(ops)
	p, _ := jsonpatch.DecodePatch(opsJSON)
	origJSON, _ := yaml.YAMLToJSON(orig)
	out, err := p.Apply(origJSON)
	if err != nil {
		t.Fatal(err)
	}
	spec := podSpec(t, k, mustYAML(out))
	if err := kube.ValidatePodSpec(spec); err != nil {
		t.Error(err)
	}
	if len(spec.Volumes) != 1 || spec.Volumes[0].Image == nil || spec.Volumes[0].EmptyDir != nil {
		t.Errorf("volumes = %+v, want cache replaced by the image", spec.Volumes)
	}
	if ms := spec.Containers[0].VolumeMounts; len(ms) != 1 || !ms[0].ReadOnly || ms[0].SubPath != "site" {
		t.Errorf("mounts = %+v", ms)
	}
}

func mustYAML(j []byte) []byte {
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		panic(err)
	}
	return y
}

func TestPod(t *testing.T) {
	m := mount()
	pod, err := kube.PodFor(m, kube.PodOptions{PullSecrets: []string{"regcred"}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pod.yaml", pod)
	var p corev1.Pod
	strict(t, pod, &p)
	if err := kube.ValidatePodSpec(&p.Spec); err != nil {
		t.Error(err)
	}
	if p.Kind != "Pod" || p.APIVersion != "v1" || p.Spec.Containers[0].Image == "" || p.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("pod = %+v", p)
	}
	if bytes.Contains(pod, []byte("creationTimestamp")) || bytes.Contains(pod, []byte("{}")) {
		t.Errorf("pod has empty values:\n%s", pod)
	}
}

func TestComponent(t *testing.T) {
	dir := t.TempDir()
	k, _ := kube.KindByName("deploy")
	w := kube.Workload{Kind: k, Name: "web"}
	files, err := kube.WriteComponent(dir, w, mount(), kube.ComponentOptions{ImagesEntry: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		golden(t, "component-"+filepath.Base(f), b)
	}
	// An update keeps the user's entries and replaces ours.
	kf := filepath.Join(dir, "kustomization.yaml")
	b, _ := os.ReadFile(kf)
	b = append(b, []byte("commonLabels:\n  team: web\n")...)
	os.WriteFile(kf, b, 0o644)
	m := mount()
	m.Reference = strings.Replace(ref, "4f9d", "0000", 1)
	if _, err := kube.WriteComponent(dir, w, m, kube.ComponentOptions{ImagesEntry: true}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(kf)
	var kz struct {
		Kind         string
		CommonLabels map[string]string `json:"commonLabels"`
		Patches      []map[string]any
		Images       []map[string]string
	}
	yaml.Unmarshal(b, &kz)
	if kz.Kind != "Component" || kz.CommonLabels["team"] != "web" || len(kz.Patches) != 1 || len(kz.Images) != 1 || !strings.HasPrefix(kz.Images[0]["digest"], "sha256:0000") {
		t.Errorf("updated kustomization = %s", b)
	}
	// A Kustomization that is not a Component is refused.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"), 0o644)
	if _, err := kube.WriteComponent(other, w, mount(), kube.ComponentOptions{}); !errors.Is(err, kube.ErrInvalid) {
		t.Errorf("writing into a Kustomization: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	w := kube.Workload{Kind: k, Name: "web"}
	orig := base(t, k)
	for _, tc := range []struct {
		name string
		f    func() error
		want string
	}{
		{"tag not digest", func() error {
			m := mount()
			m.Reference = "registry.example.com/web/site-assets:v42"
			_, err := kube.StrategicPatch(w, m)
			return err
		}, "not pinned by digest"},
		{"relative mount path", func() error {
			m := mount()
			m.MountPath = "html"
			_, err := kube.StrategicPatch(w, m)
			return err
		}, `mount path "html" must be an absolute path`},
		{"dotdot sub-path", func() error {
			m := mount()
			m.SubPath = "site/../../etc"
			_, err := kube.StrategicPatch(w, m)
			return err
		}, `".."`},
		{"bad pull policy", func() error {
			m := mount()
			m.PullPolicy = "Sometimes"
			_, err := kube.StrategicPatch(w, m)
			return err
		}, `"Sometimes"`},
		{"bad volume name", func() error {
			m := mount()
			m.VolumeName = "Assets_1"
			_, err := kube.StrategicPatch(w, m)
			return err
		}, "DNS label"},
		{"no container", func() error {
			m := mount()
			m.Containers = nil
			_, err := kube.StrategicPatch(w, m)
			return err
		}, "container is missing"},
		{"ambiguous container", func() error {
			m := mount()
			m.Containers = nil
			_, err := kube.CheckAgainst(orig, w, m)
			return err
		}, "has 2 containers (nginx, sidecar)"},
		{"unknown container", func() error {
			m := mount()
			m.Containers = []string{"web"}
			_, err := kube.JSON6902Patch(orig, w, m)
			return err
		}, `no container "web"`},
		{"workload not in manifest", func() error {
			_, err := kube.JSON6902Patch(orig, kube.Workload{Kind: k, Name: "api"}, mount())
			return err
		}, "has no deployment/api (it has: deployment/web)"},
		{"malformed manifest", func() error {
			_, err := kube.JSON6902Patch([]byte("kind: [unclosed"), w, mount())
			return err
		}, "malformed YAML"},
		{"unknown kind", func() error {
			_, err := kube.ParseWorkload("service/web")
			return err
		}, `unknown kind "service"`},
		{"no name", func() error {
			_, err := kube.ParseWorkload("deployment")
			return err
		}, "KIND/NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f()
			if !errors.Is(err, kube.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "--") {
				t.Errorf("err = %v, names a flag", err)
			}
		})
	}
	for in, want := range map[string]string{"deploy/web": "Deployment", "CronJob/x": "CronJob", "sts/db": "StatefulSet", "po/p": "Pod", "ds/d": "DaemonSet", "rs/r": "ReplicaSet", "job/j": "Job"} {
		w, err := kube.ParseWorkload(in)
		if err != nil || w.Kind.Name != want {
			t.Errorf("ParseWorkload(%q) = %v, %v", in, w, err)
		}
	}
}

func TestResolve(t *testing.T) {
	in := []byte(`# the site
apiVersion: v1
kind: Pod
metadata:
  name: web # keep me
spec:
  volumes:
    - name: assets
      image:
        reference: assetpack://./site
    - name: docs
      image: {reference: "assetpack://./docs"}
---
kind: ConfigMap
data:
  same: assetpack://./site
  other: not assetpack
`)
	var built []string
	out, dirs, err := kube.Resolve(in, func(dir string) (string, error) {
		built = append(built, dir)
		return fmt.Sprintf("registry.example.com/%s@sha256:%064d", strings.TrimPrefix(dir, "./"), len(built)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "resolved.yaml", out)
	if strings.Join(built, ",") != "./site,./docs" || strings.Join(dirs, ",") != "./site,./docs" {
		t.Errorf("built %v (returned %v), want each directory once", built, dirs)
	}
	if !bytes.Contains(out, []byte("# keep me")) || bytes.Contains(out, []byte("assetpack://")) {
		t.Errorf("resolved:\n%s", out)
	}
	if _, _, err := kube.Resolve([]byte("a: [b"), nil); !errors.Is(err, kube.ErrInvalid) {
		t.Errorf("malformed YAML: %v", err)
	}
	_, _, err = kube.Resolve([]byte("a: assetpack://./x\n"), func(string) (string, error) { return "", errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "assetpack://./x") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("build failure: %v", err)
	}
}

// TestComponentEveryKind: the Component's patch is the strategic patch and
// its target names the kind, for every workload kind.
func TestComponentEveryKind(t *testing.T) {
	for _, k := range kube.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			dir := t.TempDir()
			w := kube.Workload{Kind: k, Name: "web"}
			if _, err := kube.WriteComponent(dir, w, mount(), kube.ComponentOptions{}); err != nil {
				t.Fatal(err)
			}
			kz, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
			golden(t, "component-"+strings.ToLower(k.Name)+"-kustomization.yaml", kz)
			patch, _ := os.ReadFile(filepath.Join(dir, "assets-patch.yaml"))
			want, _ := kube.StrategicPatch(w, mount())
			if !bytes.Equal(patch, append([]byte("# Written by assetpack.\n"), want...)) {
				t.Errorf("component patch differs from the strategic patch:\n%s", patch)
			}
			typed, _ := kube.NewObject(k.Name)
			strict(t, patch, typed)
		})
	}
}
