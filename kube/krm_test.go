package kube_test

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/kube"
)

func TestFunction(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	var dep map[string]any
	yaml.Unmarshal(base(t, k), &dep)
	rl := map[string]any{
		"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
		"items": []any{map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"}}, dep},
		"functionConfig": map[string]any{"apiVersion": kube.FunctionAPIVersion, "kind": kube.FunctionKind, "metadata": map[string]any{"name": "assets"},
			"spec": map[string]any{"image": ref, "workload": "deployment/web", "containers": []any{"nginx"}, "mountPath": "/usr/share/nginx/html", "subPath": "site"}},
	}
	in, _ := yaml.Marshal(rl)
	out, err := kube.Function(in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kube.Function(out)
	if err != nil || string(again) != string(out) {
		t.Errorf("running the function twice changed the result: %v", err)
	}
	var res struct {
		Items []map[string]any
	}
	yaml.Unmarshal(out, &res)
	b, _ := yaml.Marshal(res.Items[1])
	var d appsv1.Deployment
	strict(t, b, &d)
	checkMerged(t, &d.Spec.Template.Spec)
	if res.Items[0]["kind"] != "Service" {
		t.Errorf("other items changed: %v", res.Items[0])
	}
	for _, bad := range []string{"kind: Deployment\n", "kind: ResourceList\nitems: []\n", "kind: ResourceList\nitems: []\nfunctionConfig: {kind: Other}\n",
		strings.Replace(string(in), "deployment/web", "deployment/api", 1), strings.Replace(string(in), "mountPath", "mountPth", 1)} {
		if _, err := kube.Function([]byte(bad)); !errors.Is(err, kube.ErrInvalid) {
			t.Errorf("Function(%.40q) = %v, want ErrInvalid", bad, err)
		}
	}
}
