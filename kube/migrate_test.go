package kube_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/kube"
)

func TestMigrateSiteExample(t *testing.T) {
	in, err := os.ReadFile("../examples/site/k8s/old-init-copy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, changes, err := kube.Migrate(in, kube.MigrateOptions{Image: ref})
	if err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	golden(t, "migrated-site.yaml", out)
	docs := strings.Split(string(out), "---\n")
	if len(docs) != 2 || !strings.Contains(docs[1], "kind: Service") {
		t.Fatalf("migrated stream = %q, want the Deployment and the untouched Service", out)
	}
	var d appsv1.Deployment
	strict(t, []byte(docs[0]), &d)
	spec := d.Spec.Template.Spec
	if err := kube.ValidatePodSpec(&spec); err != nil {
		t.Errorf("migrated spec: %v", err)
	}
	if len(spec.InitContainers) != 0 {
		t.Errorf("init container left: %+v", spec.InitContainers)
	}
	if len(spec.Volumes) != 1 || spec.Volumes[0].EmptyDir != nil || spec.Volumes[0].Image == nil ||
		spec.Volumes[0].Image.Reference != ref || spec.Volumes[0].Image.PullPolicy != corev1.PullIfNotPresent {
		t.Errorf("volumes = %+v", spec.Volumes)
	}
	m := spec.Containers[0].VolumeMounts[0]
	if m.MountPath != "/usr/share/nginx/html" || m.SubPath != "site" || !m.ReadOnly {
		t.Errorf("mount = %+v", m)
	}
	if *d.Spec.Replicas != 2 || spec.Containers[0].Ports[0].ContainerPort != 80 || d.Labels["app"] != "web" {
		t.Errorf("other fields were not kept: %+v", d)
	}
	if len(changes) != 3 || !strings.Contains(changes[0], `removed init container "copy-site"`) || !strings.Contains(changes[2], `subPath "site"`) {
		t.Errorf("changes = %q", changes)
	}

	// Without --image the init container's image is used, with a note to pin it.
	_, changes, err = kube.Migrate(in, kube.MigrateOptions{})
	if err != nil || !strings.Contains(strings.Join(changes, "\n"), "is a tag, not a digest") {
		t.Errorf("Migrate() without --image: %v, %q", err, changes)
	}
}

func TestMigrateForms(t *testing.T) {
	pod := func(command, args string, extra string) []byte {
		return []byte(`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
  - name: copy
    image: example.com/content:v1
    command: ` + command + `
    args: ` + args + `
    volumeMounts: [{name: data, mountPath: /data/}]
` + extra + `
  containers:
  - name: app
    image: example.com/app:v1
    volumeMounts: [{name: data, mountPath: /srv, subPath: docs}]
  volumes:
  - name: data
    emptyDir: {}
`)
	}
	for _, tc := range []struct {
		name, command, args, extra string
		subPath                    string // want; "" with err
		err                        string
	}{
		{name: "direct cp", command: `["cp", "-a", "/opt/content/.", "/data"]`, args: `[]`, subPath: "opt/content/docs"},
		{name: "sh -c with &&", command: `["/bin/sh", "-c"]`, args: `["echo start && cp -rv /www/* /data/ && echo done"]`, subPath: "www/docs"},
		{name: "root contents", command: `["cp", "-r", "/.", "/data"]`, args: `[]`, subPath: "docs"},
		{name: "copies the dir itself", command: `["cp", "-r", "/site", "/data"]`, args: `[]`, err: "copies /site itself"},
		{name: "tar", command: `["sh", "-c", "tar -C /data -xf /site.tar"]`, args: `[]`, err: "does not run cp"},
		{name: "two sources", command: `["cp", "-r", "/a/*", "/b/*", "/data"]`, args: `[]`, err: "exactly one source"},
		{name: "wrong destination", command: `["cp", "-r", "/site/*", "/elsewhere"]`, args: `[]`, err: "not one of its volume mounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := kube.Migrate(pod(tc.command, tc.args, tc.extra), kube.MigrateOptions{})
			if tc.err != "" {
				if !errors.Is(err, kube.ErrNotRecognised) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "pod/p") {
					t.Errorf("err = %v, want ErrNotRecognised naming pod/p and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var p corev1.Pod
			strict(t, out, &p)
			if got := p.Spec.Containers[0].VolumeMounts[0].SubPath; got != tc.subPath {
				t.Errorf("subPath = %q, want %q", got, tc.subPath)
			}
		})
	}
	for _, tc := range []struct{ in, want string }{
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "no Pod, Deployment"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: b}]\n", "no init containers"},
		{"kind: [", "malformed YAML"},
		{"", "empty"},
	} {
		_, _, err := kube.Migrate([]byte(tc.in), kube.MigrateOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Migrate(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	var p corev1.Pod
	_ = yaml.Unmarshal(nil, &p)
}
