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
