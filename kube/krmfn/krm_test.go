package krmfn_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/config"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/kube/krmfn"
)

// runFunction runs fn through kyaml's framework, as kustomize and kpt do,
// and returns the ResourceList written, its results and the error.

// ref is an image reference pinned by digest.
const ref = "registry.example.com/web/site-assets@sha256:4f9d2b1c5e8a7f6d3c2b1a0e9f8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"

func runFunction(t *testing.T, fn krmfn.Function, input string) (string, framework.Results, error) {
	t.Helper()
	var out bytes.Buffer
	var results framework.Results
	p := framework.ResourceListProcessorFunc(func(rl *framework.ResourceList) error {
		err := fn.Process(rl)
		results = rl.Results
		return err
	})
	err := framework.Execute(p, &kio.ByteReadWriter{Reader: strings.NewReader(input), Writer: &out, KeepReaderAnnotations: true})
	return out.String(), results, err
}

// resourceList is a ResourceList with the Service and Deployment of the
// site example (with comments) and the given functionConfig.
func resourceList(functionConfig string) string {
	return `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    annotations: {config.kubernetes.io/path: k8s/service.yaml, config.kubernetes.io/index: "0"}
  spec: {selector: {app: web}, ports: [{port: 80}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web # the site
    annotations:
      config.kubernetes.io/path: k8s/deployment.yaml
      config.kubernetes.io/index: "1"
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        # nginx serves the site
        - name: nginx
          image: nginx:1.29
          volumeMounts:
          - {name: cache, mountPath: /var/cache/nginx}
        - name: sidecar
          image: busybox:1.37
        volumes:
        - name: cache
          emptyDir: {}
` + functionConfig
}

const imageVolume = `functionConfig:
  apiVersion: assetpack.dev/v1alpha1
  kind: ImageVolume
  metadata:
    name: assets
    annotations: {config.kubernetes.io/path: assets-fn.yaml}
  spec:
    image: ` + ref + `
    workload: deployment/web
    containers: [nginx]
    mountPath: /usr/share/nginx/html
    subPath: site
`

// items decodes the ResourceList's items.
func items(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rl struct {
		Items []map[string]any `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(out), &rl); err != nil {
		t.Fatalf("output is not a ResourceList: %v\n%s", err, out)
	}
	return rl.Items
}

func TestFunction(t *testing.T) {
	out, results, err := runFunction(t, krmfn.Function{}, resourceList(imageVolume))
	if err != nil {
		t.Fatalf("Process() = %v", err)
	}
	its := items(t, out)
	if len(its) != 2 || its[0]["kind"] != "Service" {
		t.Fatalf("items = %v", its)
	}
	b, _ := yaml.Marshal(its[1])
	var d appsv1.Deployment
	strict(t, b, &d)
	spec := d.Spec.Template.Spec
	if err := kube.ValidatePodSpec(&spec); err != nil {
		t.Error(err)
	}
	if len(spec.Volumes) != 2 || spec.Volumes[1].Name != "assets" || spec.Volumes[1].Image == nil || spec.Volumes[1].Image.Reference != ref ||
		spec.Volumes[1].Image.PullPolicy != "IfNotPresent" || spec.Volumes[0].EmptyDir == nil {
		t.Errorf("volumes = %+v", spec.Volumes)
	}
	mounts := spec.Containers[0].VolumeMounts
	if len(mounts) != 2 || mounts[1].Name != "assets" || mounts[1].MountPath != "/usr/share/nginx/html" || mounts[1].SubPath != "site" || !mounts[1].ReadOnly ||
		len(spec.Containers[1].VolumeMounts) != 0 {
		t.Errorf("mounts = %+v, %+v", mounts, spec.Containers[1].VolumeMounts)
	}
	// Comments and the rest of the item are kept.
	if !strings.Contains(out, "name: web # the site") || !strings.Contains(out, "# nginx serves the site") || !strings.Contains(out, "{name: cache, mountPath: /var/cache/nginx}") {
		t.Errorf("comments or layout lost:\n%s", out)
	}
	// One info result, about the Deployment, with its file.
	if len(results) != 1 {
		t.Fatalf("results = %v", results)
	}
	r := results[0]
	if r.Severity != framework.Info || r.ResourceRef == nil || r.ResourceRef.Kind != "Deployment" || r.ResourceRef.Name != "web" ||
		r.File == nil || r.File.Path != "k8s/deployment.yaml" || r.File.Index != 1 || r.Field == nil || r.Field.Path != "spec.template.spec.volumes[name=assets]" ||
		!strings.Contains(r.Message, "read-only at /usr/share/nginx/html (subPath site) in container nginx") {
		t.Errorf("result = %+v %+v %+v %+v", r, r.ResourceRef, r.File, r.Field)
	}
	if !strings.Contains(out, "results:\n- message: deployment/web mounts "+ref) {
		t.Errorf("the results are not in the ResourceList:\n%s", out)
	}

	// Idempotent: the function on its own output changes no item.
	again, _, err := runFunction(t, krmfn.Function{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(items(t, again), its) || strings.Split(again, "results:")[0] != strings.Split(out, "results:")[0] {
		t.Errorf("running the function twice changed the items:\n%s\n---\n%s", out, again)
	}
}

func TestFunctionConfigMap(t *testing.T) {
	// What kpt fn eval and kustomize fn run make of "-- key=value".
	cm := "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data:\n    image: " + ref +
		"\n    workload: deploy/web\n    containers: nginx, sidecar\n    mountPath: /srv\n    volumeName: site\n    pullPolicy: Always\n"
	out, results, err := runFunction(t, krmfn.Function{}, resourceList(cm))
	if err != nil {
		t.Fatalf("Process() = %v", err)
	}
	b, _ := yaml.Marshal(items(t, out)[1])
	var d appsv1.Deployment
	strict(t, b, &d)
	spec := d.Spec.Template.Spec
	if v := spec.Volumes[1]; v.Name != "site" || v.Image.PullPolicy != "Always" || len(spec.Containers[1].VolumeMounts) != 1 || spec.Containers[1].VolumeMounts[0].MountPath != "/srv" {
		t.Errorf("spec = %+v", spec)
	}
	if len(results) != 1 || !strings.Contains(results[0].Message, "in containers nginx, sidecar") {
		t.Errorf("results = %v", results)
	}
}

// TestFunctionErrors: each problem is an error result naming the field it
// is about (in the functionConfig, with its file) and Process fails with
// ErrInvalid; nothing is patched.
func TestFunctionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		fields         []string // the results' field paths, in order
		message        string   // in the first result and the error
	}{
		{name: "unknown field", from: "mountPath:", to: "mountPth:", fields: []string{"spec.mountPth", "spec.mountPath"}, message: "unknown field spec.mountPth: did you mean mountPath?"},
		{name: "output setting", from: "subPath: site", to: "format: strategic", fields: []string{"spec.format"}, message: "assetpack.yaml setting"},
		{name: "relative mount path", from: "/usr/share/nginx/html", to: "html", fields: []string{"spec.mountPath"}, message: `spec.mountPath "html" must be an absolute path`},
		{name: "every problem at once", from: "subPath: site", to: "subPath: ../etc\n    pullPolicy: Sometimes\n    volumeName: Assets", fields: []string{"spec.pullPolicy", "spec.volumeName", "spec.subPath"}, message: `spec.pullPolicy "Sometimes" must be Always, IfNotPresent or Never`},
		{name: "tag", from: ref, to: "registry.example.com/web/site-assets:v1", fields: []string{"spec.image"}, message: `spec.image "registry.example.com/web/site-assets:v1" is not pinned by digest`},
		{name: "no image", from: "image: " + ref, to: "", fields: []string{"spec.image"}, message: "spec.image is empty"},
		{name: "containers not a list", from: "[nginx]", to: "nginx", fields: []string{"spec.containers"}, message: "spec.containers must be a list of container names"},
		{name: "bad workload", from: "deployment/web", to: "service/web", fields: []string{"spec.workload"}, message: `spec.workload "service/web" has an unknown kind "service"`},
		{name: "workload not found", from: "deployment/web", to: "deployment/api", fields: []string{"spec.workload"}, message: `spec.workload "deployment/api": no deployment/api among the resources (it has: deployment/web, service/web)`},
		{name: "container not found", from: "[nginx]", to: "[web]", fields: []string{"spec.containers"}, message: `spec.containers: deployment/web has no container "web" (it has: nginx, sidecar)`},
		{name: "container to choose", from: "    containers: [nginx]\n", to: "", fields: []string{"spec.containers"}, message: "spec.containers is missing: deployment/web has 2 containers (nginx, sidecar); name the one(s)"},
		{name: "wrong kind", from: "kind: ImageVolume", to: "kind: Assets", fields: []string{"kind"}, message: `functionConfig kind "Assets"`},
		{name: "wrong apiVersion", from: "assetpack.dev/v1alpha1", to: "assetpack.dev/v2", fields: []string{"apiVersion"}, message: `functionConfig apiVersion "assetpack.dev/v2"`},
		{name: "no functionConfig", from: imageVolume, to: "", fields: []string{""}, message: "the ResourceList has no functionConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strings.Replace(imageVolume, tc.from, tc.to, 1)
			pinned := false
			out, results, err := runFunction(t, krmfn.Function{Pin: func(string) (string, error) { pinned = true; return ref, nil }}, resourceList(cfg))
			if tc.name == "tag" { // without Pin, a tag is refused
				out, results, err = runFunction(t, krmfn.Function{}, resourceList(cfg))
			}
			if !errors.Is(err, kube.ErrInvalid) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Process() = %v, want ErrInvalid with %q", err, tc.message)
			}
			var fields []string
			for _, r := range results {
				if r.Severity != framework.Error {
					t.Errorf("result %q has severity %q", r.Message, r.Severity)
				}
				f := ""
				if r.Field != nil {
					f = r.Field.Path
				}
				fields = append(fields, f)
			}
			if !slices.Equal(fields, tc.fields) || !strings.Contains(results[0].Message, tc.message) {
				t.Fatalf("results %v, fields %q; want fields %q and %q", results, fields, tc.fields, tc.message)
			}
			if f := results[0].File; tc.name != "no functionConfig" && !strings.HasPrefix(tc.name, "container") && (f == nil || f.Path != "assets-fn.yaml") {
				t.Errorf("result file = %+v, want the functionConfig's", f)
			}
			if pinned && tc.name != "tag" && tc.name != "workload not found" && !strings.HasPrefix(tc.name, "container") {
				t.Error("the image was pinned before the functionConfig was checked")
			}
			if strings.Contains(out, "readOnly: true") {
				t.Errorf("patched despite the error:\n%s", out)
			}
		})
	}
}

func TestFunctionWarnings(t *testing.T) {
	// A volume of the same name with another source, and a mount of another
	// volume at the mount path, are replaced, each with a warning.
	cfg := strings.Replace(imageVolume, "mountPath: /usr/share/nginx/html", "mountPath: /var/cache/nginx\n    volumeName: cache", 1)
	out, results, err := runFunction(t, krmfn.Function{}, resourceList(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var sev []framework.Severity
	for _, r := range results {
		sev = append(sev, r.Severity)
	}
	if !slices.Equal(sev, []framework.Severity{framework.Info, framework.Warning}) || !strings.Contains(results[1].Message, `volume "cache" of deployment/web had another source (emptyDir); it is now the image volume`) ||
		results[1].Field.Path != "spec.template.spec.volumes[name=cache]" {
		t.Errorf("results = %v", results)
	}
	b, _ := yaml.Marshal(items(t, out)[1])
	var d appsv1.Deployment
	strict(t, b, &d)
	if spec := d.Spec.Template.Spec; len(spec.Volumes) != 1 || spec.Volumes[0].EmptyDir != nil || len(spec.Containers[0].VolumeMounts) != 1 {
		t.Errorf("spec = %+v", spec)
	}

	cfg = strings.Replace(imageVolume, "mountPath: /usr/share/nginx/html", "mountPath: /var/cache/nginx", 1)
	_, results, err = runFunction(t, krmfn.Function{}, resourceList(cfg))
	if err != nil || len(results) != 2 || results[1].Severity != framework.Warning ||
		!strings.Contains(results[1].Message, `container "nginx" of deployment/web mounted volume "cache" at /var/cache/nginx; it now mounts the image volume there`) {
		t.Errorf("results = %v, %v", results, err)
	}
}

func TestFunctionPin(t *testing.T) {
	tag := "registry.example.com/web/site-assets:v1"
	cfg := strings.Replace(imageVolume, ref, tag, 1)
	var asked []string
	pin := func(image string) (string, error) { asked = append(asked, image); return ref, nil }
	out, results, err := runFunction(t, krmfn.Function{Pin: pin}, resourceList(cfg))
	if err != nil || !slices.Equal(asked, []string{tag}) || !strings.Contains(out, "reference: "+ref) {
		t.Fatalf("Process() = %v, asked %q\n%s", err, asked, out)
	}
	if r := results[0]; r.Severity != framework.Info || r.Message != "pinned "+tag+" to "+ref || r.Field.Path != "spec.image" || r.Field.ProposedValue != ref {
		t.Errorf("results = %v", results)
	}

	// A registry failure is an error result, but not bad input.
	boom := errors.New("connection refused")
	_, results, err = runFunction(t, krmfn.Function{Pin: func(string) (string, error) { return "", boom }}, resourceList(cfg))
	if !errors.Is(err, boom) || errors.Is(err, kube.ErrInvalid) || len(results) != 1 || results[0].Severity != framework.Error ||
		!strings.Contains(results[0].Message, `pinning spec.image "`+tag+`": connection refused`) {
		t.Errorf("Process() = %v, results %v", err, results)
	}
}

// TestFunctionConfigFields keeps the functionConfig's spec in step with
// assetpack.yaml's kubernetes: section: the same fields, plus the image,
// less the output settings of assetpack build.
func TestFunctionConfigFields(t *testing.T) {
	names := func(typ reflect.Type) []string {
		var out []string
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	var want []string
	for _, n := range append(names(reflect.TypeFor[config.Kubernetes]()), "image") {
		if n != "format" && n != "output" && n != "file" {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	if got := names(reflect.TypeFor[krmfn.FunctionSpec]()); !slices.Equal(got, want) {
		t.Errorf("FunctionSpec fields = %q, want %q", got, want)
	}
}

// strict decodes an item into its typed object, rejecting unknown fields.
func strict(t *testing.T, data []byte, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("strict decoding into %T: %v\n%s", obj, err, data)
	}
}
