package kube_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/kube"
)

func TestWorkloadsIn(t *testing.T) {
	manifest := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report}\n")
	ws, err := kube.WorkloadsIn(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.String())
	}
	if strings.Join(got, " ") != "deployment/web cronjob/report" || ws[0].Namespace != "shop" {
		t.Errorf("WorkloadsIn() = %v, want deployment/web (in shop) and cronjob/report", ws)
	}
	if _, err := kube.WorkloadsIn([]byte("a: [")); !errors.Is(err, kube.ErrInvalid) {
		t.Errorf("WorkloadsIn(bad YAML) = %v, want ErrInvalid", err)
	}
}

func TestContainersOf(t *testing.T) {
	manifest := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: fetch, image: busybox}]\n          containers: [{name: report, image: r}, {name: upload, image: u}]\n")
	got, err := kube.ContainersOf(manifest, kube.Workload{Kind: mustKind(t, "cronjob"), Name: "report"})
	if err != nil || strings.Join(got, ",") != "report,upload" {
		t.Errorf("ContainersOf(cronjob/report) = %v, %v; want report,upload (not the init container)", got, err)
	}
	if _, err := kube.ContainersOf(manifest, kube.Workload{Kind: mustKind(t, "deployment"), Name: "web"}); !errors.Is(err, kube.ErrInvalid) || !strings.Contains(err.Error(), "service/web, cronjob/report") {
		t.Errorf("ContainersOf(deployment/web) = %v, want ErrInvalid listing what the manifest has", err)
	}
}

func mustKind(t *testing.T, name string) kube.Kind {
	t.Helper()
	k, ok := kube.KindByName(name)
	if !ok {
		t.Fatalf("no kind %q", name)
	}
	return k
}
