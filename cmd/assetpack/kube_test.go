package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/internal/testregistry"
)

const deployYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.29
      - name: sidecar
        image: busybox:1.37
      volumes:
      - name: cache
        emptyDir: {}
`

func TestBuildPushPatch(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	os.WriteFile(filepath.Join(work, "deploy.yaml"), []byte(deployYAML), 0o644)
	r := assetpack(t, work, nil, "build", "site", "--git=false", "--prefix", "site", "-t", host+"/web/site:v1", "--push",
		"--patch-out", "k8s/patch.yaml", "--kustomize", "k8s/assets", "-f", "deploy.yaml",
		"--workload", "deployment/web", "--container", "nginx", "--mount-path", "/usr/share/nginx/html")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ref := strings.TrimSpace(r.stdout)
	var d appsv1.Deployment
	b, err := os.ReadFile(filepath.Join(work, "k8s", "patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatal(err)
	}
	v := d.Spec.Template.Spec.Volumes[0]
	m := d.Spec.Template.Spec.Containers[0].VolumeMounts[0]
	if v.Image == nil || v.Image.Reference != ref || m.SubPath != "site" || m.MountPath != "/usr/share/nginx/html" {
		t.Errorf("patch = %s, want %s mounted with subPath site (from --prefix)", b, ref)
	}
	if k, err := os.ReadFile(filepath.Join(work, "k8s", "assets", "kustomization.yaml")); err != nil || !strings.Contains(string(k), "kind: Component") {
		t.Errorf("component: %v %s", err, k)
	}
	if !strings.Contains(r.stderr, "image volumes need Kubernetes") {
		t.Errorf("stderr lacks the requirements note: %s", r.stderr)
	}

	// Bad mount flags fail before anything is built or pushed.
	bad := assetpack(t, work, nil, "build", "site", "--git=false", "-t", host+"/web/never:v1", "--push",
		"--patch-out", "p.yaml", "--workload", "deployment/web", "--mount-path", "relative")
	if bad.code != 2 || !strings.Contains(bad.stderr, `--mount-path "relative" must be an absolute path`) {
		t.Errorf("bad mount path: exit %d: %s", bad.code, bad.stderr)
	}
	if q := assetpack(t, work, nil, "patch", host+"/web/never:v1", "--format", "pod", "--mount-path", "/x"); q.code == 0 {
		t.Errorf("an image was pushed although the patch flags were bad")
	}

	// patch resolves a tag to the digest; --require-digest refuses it.
	p := assetpack(t, work, nil, "patch", host+"/web/site:v1", "--format", "pod", "--mount-path", "/usr/share/nginx/html", "--sub-path", "site", "--pull-secret", "regcred")
	if p.code != 0 || !strings.Contains(p.stdout, ref) || !strings.Contains(p.stderr, "resolved") {
		t.Errorf("patch of a tag: exit %d: %s %s", p.code, p.stdout, p.stderr)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(p.stdout), &pod); err != nil || pod.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("pod: %v %s", err, p.stdout)
	}
	rd := assetpack(t, work, nil, "patch", host+"/web/site:v1", "--format", "pod", "--mount-path", "/x", "--require-digest")
	if rd.code != 2 || !strings.Contains(rd.stderr, "--require-digest") {
		t.Errorf("--require-digest: exit %d: %s", rd.code, rd.stderr)
	}
}

func TestPatchErrors(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "deploy.yaml"), []byte(deployYAML), 0o644)
	ref := "registry.example.com/web/site@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", ref, "--mount-path", "/x"}, "--workload KIND/NAME is required"},
		{[]string{"patch", ref, "--workload", "service/web", "--mount-path", "/x", "--container", "a"}, `--workload "service/web" has an unknown kind "service"`},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "-f", "deploy.yaml"}, "--container is missing: deployment/web has 2 containers (nginx, sidecar)"},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--volume-name", "cache", "-f", "deploy.yaml"}, `--volume-name "cache" is already a volume of deployment/web with another source (emptyDir)`},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--volume-name", "cache", "-f", "deploy.yaml"}, "use --format json6902 to replace it"},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--format", "json6902"}, "-f FILE"},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--sub-path", "../etc"}, `--sub-path "../etc" contains ".."`},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--format", "kustomize"}, "--output DIR"},
		{[]string{"patch", ref, "--workload", "deployment/web", "--mount-path", "/x", "--container", "nginx", "--format", "helm"}, `--format "helm"`},
		{[]string{"patch", "oci:out@sha256:" + strings.Repeat("a", 64), "--mount-path", "/x"}, "local image"},
		{[]string{"migrate"}, "-f FILE"},
		{[]string{"migrate", "-f", "deploy.yaml"}, "not recognised"},
		{[]string{"resolve", "-f", "deploy.yaml"}, "--repository"},
	} {
		r := assetpack(t, work, []string{"ASSETPACK_REPOSITORY="}, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// Every problem at once, one per line, each naming its flag, before any
	// request (the registry in the reference does not exist).
	all := assetpack(t, work, nil, "patch", "registry.invalid/web/Site:v1", "--require-digest", "--mount-path", "srv",
		"--pull-policy", "sometimes", "--volume-name", "Assets", "--format", "pod", "--container", "Nginx")
	for _, want := range []string{
		`assetpack: "registry.invalid/web/Site:v1" is a tag and --require-digest is set: pass REPO@sha256:HEX` + "\n",
		`invalid reference "registry.invalid/web/Site:v1": the repository "web/Site" has uppercase letters`,
		"\ninvalid Kubernetes output request: --mount-path \"srv\" must be an absolute path",
		"\ninvalid Kubernetes output request: --pull-policy \"sometimes\" must be Always, IfNotPresent or Never",
		"\ninvalid Kubernetes output request: --volume-name \"Assets\" must be a DNS label",
		"\ninvalid Kubernetes output request: --container \"Nginx\" must be a container name",
	} {
		if all.code != 2 || !strings.Contains(all.stderr, want) {
			t.Errorf("patch with five bad flags: exit %d, stderr %q; want 2 and %q", all.code, all.stderr, want)
		}
	}
	// The only container of a workload given with -f needs no --container.
	one := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: nginx, image: nginx}]\n"
	os.WriteFile(filepath.Join(work, "pod.yaml"), []byte(one), 0o644)
	if p := assetpack(t, work, nil, "patch", ref, "--workload", "pod/web", "--mount-path", "/x", "-f", "pod.yaml", "-q"); p.code != 0 || !strings.Contains(p.stdout, "name: nginx") {
		t.Errorf("patch -f with one container: exit %d: %s %s", p.code, p.stdout, p.stderr)
	}
	// So is the only workload: the note says which it took.
	if p := assetpack(t, work, nil, "patch", ref, "--mount-path", "/x", "-f", "pod.yaml"); p.code != 0 || !strings.Contains(p.stdout, "name: nginx") ||
		!strings.Contains(p.stderr, "note: --workload pod/web, the only workload in pod.yaml\n") {
		t.Errorf("patch -f with one workload: exit %d: %s %s", p.code, p.stdout, p.stderr)
	}
	// With several, the error names them.
	os.WriteFile(filepath.Join(work, "two.yaml"), []byte(one+"---\n"+strings.Replace(one, "name: web", "name: api", 1)), 0o644)
	if p := assetpack(t, work, nil, "patch", ref, "--mount-path", "/x", "-f", "two.yaml"); p.code != 2 ||
		!strings.Contains(p.stderr, "--workload KIND/NAME is required for --format strategic: two.yaml has 2 workloads (pod/web, pod/api): name one") {
		t.Errorf("patch -f with two workloads: exit %d: %s", p.code, p.stderr)
	}
	// json6902 with -f replaces the clashing volume and leaves the rest.
	j := assetpack(t, work, nil, "patch", ref, "--workload", "deploy/web", "--container", "nginx", "--mount-path", "/x", "--volume-name", "cache", "--format", "json6902", "-f", "deploy.yaml", "-q")
	if j.code != 0 || !strings.Contains(j.stdout, "op: replace") || !strings.Contains(j.stdout, "/spec/template/spec/volumes/0") || j.stderr != "" {
		t.Errorf("json6902: exit %d: %s %s", j.code, j.stdout, j.stderr)
	}
}

func TestMigrateCommand(t *testing.T) {
	r := assetpack(t, "../../examples/site", nil, "migrate", "-f", "k8s/old-init-copy.yaml", "--image", "registry.example.com/web/site-assets@sha256:"+strings.Repeat("cd", 32))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `removed init container "copy-site"`) || !strings.Contains(r.stdout, "subPath: site") || strings.Contains(r.stdout, "emptyDir:") || !strings.Contains(r.stdout, "# The pattern assetpack replaces") {
		t.Errorf("stdout %s\nstderr %s", r.stdout, r.stderr)
	}
}

func TestResolveCommand(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	os.MkdirAll(filepath.Join(work, "k8s"), 0o755)
	os.WriteFile(filepath.Join(work, "k8s", "pod.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web # comment\nspec:\n  containers: [{name: a, image: nginx}]\n  volumes:\n  - name: assets\n    image: {reference: assetpack://./site}\n"), 0o644)
	os.WriteFile(filepath.Join(work, "k8s", "z.yml"), []byte("kind: ConfigMap\ndata:\n  ref: assetpack://./site\n"), 0o644)
	r := assetpack(t, work, []string{"ASSETPACK_REPOSITORY=" + host + "/web"}, "resolve", "-f", "k8s", "--platform", "linux/amd64")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	refs := regexp.MustCompile(regexp.QuoteMeta(host)+`/web/site@sha256:[0-9a-f]{64}`).FindAllString(r.stdout, -1)
	if len(refs) != 2 || refs[0] != refs[1] || !strings.Contains(r.stdout, "# comment") || !strings.Contains(r.stdout, "---\n") {
		t.Errorf("resolve output:\n%s\nstderr %s", r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "assetpack://./site →") != 1 {
		t.Errorf("the directory was not built exactly once: %s", r.stderr)
	}
}
