package kube_test

import (
	"errors"
	"testing"

	"github.com/assetpack/assetpack/kube"
)

// FuzzMigrate: any YAML input is migrated or refused with ErrInvalid or
// ErrNotRecognised; it never panics.
func FuzzMigrate(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: c, image: i, command: [sh, -c, 'cp -r /site/* /d/'], volumeMounts: [{name: v, mountPath: /d}]}]\n  containers: [{name: a, image: b, volumeMounts: [{name: v, mountPath: /m}]}]\n  volumes: [{name: v, emptyDir: {}}]\n"))
	f.Add([]byte("kind: Deployment\nspec: 3\n"))
	f.Add([]byte("---\n---\nkind: [\n"))
	f.Add([]byte("kind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: x, command: [cp]}]}}}}}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _, err := kube.Migrate(in, kube.MigrateOptions{})
		if err != nil && !errors.Is(err, kube.ErrInvalid) && !errors.Is(err, kube.ErrNotRecognised) {
			t.Fatalf("Migrate() = %v: not a classified error", err)
		}
	})
}

// FuzzResolve: any YAML is resolved or refused; placeholders never survive.
func FuzzResolve(f *testing.F) {
	f.Add([]byte("a: assetpack://./site\nb: [assetpack://x, 'assetpack://y']\n"))
	f.Add([]byte("a: assetpack://\n"))
	f.Add([]byte("&a x: *a\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		kube.Resolve(in, func(dir string) (string, error) { return "r@sha256:" + dir, nil })
	})
}

// FuzzPatchFlags: any flag values give a patch or an ErrInvalid.
func FuzzPatchFlags(f *testing.F) {
	f.Add("deployment/web", "nginx", "/usr/share/nginx/html", "site", "assets", "IfNotPresent")
	f.Add("cj/x", "", "rel", "../x", "A", "Sometimes")
	f.Fuzz(func(t *testing.T, workload, container, mountPath, subPath, volume, policy string) {
		w, err := kube.ParseWorkload(workload)
		if err != nil {
			return
		}
		m := kube.Mount{Reference: "r.example/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
			Containers: []string{container}, MountPath: mountPath, SubPath: subPath, VolumeName: volume, PullPolicy: "IfNotPresent"}
		if _, err := kube.StrategicPatch(w, m); err != nil && !errors.Is(err, kube.ErrInvalid) {
			t.Fatalf("StrategicPatch() = %v", err)
		}
	})
}
