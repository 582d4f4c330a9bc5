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

// splitDocs splits a YAML stream at its "---" lines (kept with the
// document that follows them).
func splitDocs(s string) []string {
	var docs []string
	cur := ""
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, "---") && cur != "" {
			docs = append(docs, cur)
			cur = ""
		}
		cur += l
	}
	return append(docs, cur)
}

// TestMigrateKeepsLayout runs migrate on manifests written by people —
// comments everywhere, blank lines, quoting, flow and block sequences,
// 4-space indentation, several documents — and compares the result with a
// golden file: only the lines of the entries that change differ, and the
// documents migrate does not change keep every byte.
func TestMigrateKeepsLayout(t *testing.T) {
	for _, tc := range []struct {
		file      string
		untouched []int    // documents (as split at "---") that must not change
		dropped   []string // comments that go with the init container
		changes   int
	}{
		{file: "deployment-comments.yaml", changes: 3, dropped: []string{
			"# Copy the rendered site into the shared volume before nginx starts.",
			"# TODO(platform): replace with an image volume once we run 1.35.",
			"# the emptyDir below",
			"# the site is ~80 MB",
		}},
		{file: "stream.yaml", untouched: []int{0, 1, 3}, changes: 3},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile("../testdata/kube/migrate/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			out, changes, err := kube.Migrate(in, kube.MigrateOptions{})
			if err != nil {
				t.Fatalf("Migrate() = %v", err)
			}
			golden(t, "migrate/"+strings.TrimSuffix(tc.file, ".yaml")+".migrated.yaml", out)
			if len(changes) != tc.changes+1 { // + the note that the image is a tag
				t.Errorf("changes = %q", changes)
			}
			inDocs, outDocs := splitDocs(string(in)), splitDocs(string(out))
			if len(inDocs) != len(outDocs) {
				t.Fatalf("%d documents in, %d out", len(inDocs), len(outDocs))
			}
			for _, i := range tc.untouched {
				if inDocs[i] != outDocs[i] {
					t.Errorf("document %d changed:\n--- in\n%s\n--- out\n%s", i, inDocs[i], outDocs[i])
				}
			}
			dropped := map[string]bool{}
			for _, c := range tc.dropped {
				dropped[c] = true
			}
			for _, l := range strings.Split(string(in), "\n") {
				c := l[strings.Index(l, "#")+1:]
				if !strings.Contains(l, "#") || strings.Contains(l, `"`) {
					continue
				}
				c = "#" + c
				if !dropped[c] && !strings.Contains(string(out), c) {
					t.Errorf("comment %q was lost", c)
				}
			}
			for _, d := range outDocs {
				if !strings.Contains(d, "kind: Deployment") && !strings.Contains(d, "kind: StatefulSet") {
					continue
				}
				obj, _ := kube.NewObject(map[bool]string{true: "Deployment", false: "StatefulSet"}[strings.Contains(d, "kind: Deployment")])
				strict(t, []byte(d), obj)
			}
			if _, _, err := kube.Migrate(out, kube.MigrateOptions{}); !errors.Is(err, kube.ErrNotRecognised) {
				t.Errorf("migrating the result again = %v, want ErrNotRecognised", err)
			}
		})
	}
}

// TestMigrateLayoutEdges covers what the line edits cannot place: a
// document written as one flow mapping is encoded again from the node tree
// (comments and key order kept), and CRLF line breaks stay CRLF.
func TestMigrateLayoutEdges(t *testing.T) {
	flow := "# one flow mapping\n{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {initContainers: [{name: c, image: i, command: [cp, -r, /s/*, /d]," +
		" volumeMounts: [{name: d, mountPath: /d}]}], containers: [{name: a, image: b, volumeMounts: [{name: d, mountPath: /srv}]}], volumes: [{name: d, emptyDir: {}}]}}\n"
	out, _, err := kube.Migrate([]byte(flow), kube.MigrateOptions{Image: ref})
	if err != nil {
		t.Fatal(err)
	}
	want := "# one flow mapping\n{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: b, volumeMounts: [{name: d, mountPath: /srv, subPath: s, readOnly: true}]}]," +
		" volumes: [{name: d, image: {reference: '" + ref + "', pullPolicy: IfNotPresent}}]}}\n"
	if string(out) != want {
		t.Errorf("flow document:\n%s\nwant\n%s", out, want)
	}

	crlf := strings.ReplaceAll(`apiVersion: v1
kind: Pod
metadata:
  name: p # the pod
spec:
  initContainers:
  - name: c
    image: i
    command: [cp, -r, /s/*, /d]
    volumeMounts:
    - {name: d, mountPath: /d}
  containers:
  - name: a
    image: b
    volumeMounts:
    - name: d
      mountPath: /srv
  volumes:
  - name: d
    emptyDir: {}
---
kind: ConfigMap
`, "\n", "\r\n")
	out, _, err = kube.Migrate([]byte(crlf), kube.MigrateOptions{Image: ref})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "\n") != strings.Count(string(out), "\r\n") || !strings.HasSuffix(string(out), "---\r\nkind: ConfigMap\r\n") ||
		!strings.Contains(string(out), "  name: p # the pod\r\n") || !strings.Contains(string(out), "      subPath: s\r\n      readOnly: true\r\n") {
		t.Errorf("CRLF document:\n%q", out)
	}
}
