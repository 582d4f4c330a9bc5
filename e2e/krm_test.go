//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// withBin is the environment that puts the assetpack under test first on
// PATH, where kustomize finds the exec function "assetpack".
func withBin() []string {
	return []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// deploymentOf strict-decodes the Deployment in YAML and checks it mounts
// the image volume "assets" in nginx, read-only with subPath site.
func deploymentOf(t *testing.T, out []byte, refPrefix string) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(out, &d); err != nil {
		t.Fatalf("output does not strict-decode: %v\n%s", err, out)
	}
	spec := d.Spec.Template.Spec
	var images int
	for _, v := range spec.Volumes {
		if v.Image != nil && strings.HasPrefix(v.Image.Reference, refPrefix) {
			images++
		}
	}
	if images != 1 || len(spec.Volumes) != 2 || spec.Containers[0].Image != "nginx:1.29" {
		t.Errorf("rendered:\n%s", out)
	}
	var mounted bool
	for _, m := range spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "assets" && m.SubPath == "site" && m.ReadOnly && m.MountPath == "/usr/share/nginx/html")
	}
	if !mounted {
		t.Errorf("nginx does not mount the image volume:\n%s", out)
	}
	return d
}

// TestKRMFunction renders examples/kustomize-fn with kustomize build, which
// runs assetpack krm as an exec function; then breaks its functionConfig and
// checks that kustomize fails with the function's error result, and that a
// warning result reaches the user without failing the build.
func TestKRMFunction(t *testing.T) {
	kustomize := tool(t, "kustomize")
	r := runEnv(t, ".", withBin(), "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", "../examples/kustomize-fn")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("kustomize build: exit %d\n%s", r.code, r.stderr)
	}
	deploymentOf(t, []byte(r.stdout), "registry.example.com/web/site-assets@sha256:")

	for _, tc := range []struct {
		name, from, to string
		code           int
		stderr         string
	}{
		{"workload not found", "workload: deployment/web", "workload: deployment/api", 1,
			`assetpack: invalid Kubernetes output request: spec.workload "deployment/api": no deployment/api among the resources (it has: deployment/web)`},
		{"bad fields", "subPath: site", "subPath: ../site\n  pullPolicy: Sometimes", 1,
			`spec.pullPolicy "Sometimes" must be Always, IfNotPresent or Never; spec.subPath "../site" contains ".."`},
		{"warning", "subPath: site", "subPath: site\n  volumeName: cache", 0,
			`assetpack: warning: volume "cache" of deployment/web had another source (emptyDir); it is now the image volume`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, "../examples/kustomize-fn", dir)
			fn := filepath.Join(dir, "assets-fn.yaml")
			b, _ := os.ReadFile(fn)
			os.WriteFile(fn, []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o644)
			r := runEnv(t, dir, withBin(), "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", ".")
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("kustomize build: exit %d, want %d and %q\n%s", r.code, tc.code, tc.stderr, r.stderr)
			}
			if tc.code != 0 && !strings.Contains(r.stderr, "couldn't execute function") {
				t.Errorf("kustomize did not report the failed function:\n%s", r.stderr)
			}
		})
	}
}

// TestKRMFnRun runs the function over a directory with kustomize fn run: the
// Deployment's file is rewritten in place, the Service's is left alone, the
// results (with their files) are written to --results-dir, a second run
// changes nothing, and an error result fails the run and is written too.
// A tag in the functionConfig is pinned through a real registry.
func TestKRMFnRun(t *testing.T) {
	kustomize := tool(t, "kustomize")
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	makeSource(t, filepath.Join(work, "site"))
	p := runEnv(t, work, nil, "", bin, "build", "site", "--git=false", "--prefix", "site", "-t", reg.Host+"/web/site:v1", "--push", "-q")
	if p.code != 0 {
		t.Fatalf("build --push: exit %d: %s", p.code, p.stderr)
	}
	ref := strings.TrimSpace(p.stdout)

	k8s := filepath.Join(work, "k8s")
	os.MkdirAll(k8s, 0o755)
	dep, err := os.ReadFile("../examples/kustomize-fn/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(k8s, "deployment.yaml"), dep, 0o644)
	svc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n"
	os.WriteFile(filepath.Join(k8s, "service.yaml"), []byte(svc), 0o644)
	fnb, _ := os.ReadFile("../examples/kustomize-fn/assets-fn.yaml")
	fn := strings.Replace(string(fnb), "registry.example.com/web/site-assets@sha256:50e70d6746bfd3284819b076e958b4ecf78e02b77f0b0791c118c297a874d4fd", reg.Host+"/web/site:v1", 1)
	os.WriteFile(filepath.Join(work, "assets-fn.yaml"), []byte(fn), 0o644)

	fnRun := func(results string) cmdResult {
		return runEnv(t, work, withBin(), "", kustomize, "fn", "run", "k8s", "--enable-exec", "--fn-path", "assets-fn.yaml", "--results-dir", results)
	}
	os.MkdirAll(filepath.Join(work, "results"), 0o755)
	r := fnRun("results")
	if r.code != 0 {
		t.Fatalf("kustomize fn run: exit %d\n%s", r.code, r.stderr)
	}
	out, _ := os.ReadFile(filepath.Join(k8s, "deployment.yaml"))
	d := deploymentOf(t, out, ref)
	if *d.Spec.Replicas != 2 || d.Labels["app"] != "web" {
		t.Errorf("the rest of the Deployment changed:\n%s", out)
	}
	if s, _ := os.ReadFile(filepath.Join(k8s, "service.yaml")); string(s) != svc {
		t.Errorf("service.yaml changed:\n%s", s)
	}
	res, err := os.ReadFile(filepath.Join(work, "results", "results-0.yaml"))
	if err != nil {
		t.Fatalf("no results file: %v", err)
	}
	var results []struct {
		Message, Severity string
		ResourceRef       struct{ Kind, Name string }
		Field             struct{ Path string }
		File              struct{ Path string }
	}
	if err := yaml.Unmarshal(res, &results); err != nil || len(results) != 2 {
		t.Fatalf("results: %v\n%s", err, res)
	}
	if r := results[0]; r.Severity != "info" || r.Message != "pinned "+reg.Host+"/web/site:v1 to "+ref || r.Field.Path != "spec.image" {
		t.Errorf("first result: %+v", r)
	}
	if r := results[1]; r.Severity != "info" || r.ResourceRef.Kind != "Deployment" || r.File.Path != "deployment.yaml" ||
		r.Field.Path != "spec.template.spec.volumes[name=assets]" || !strings.Contains(r.Message, "deployment/web mounts "+ref+" read-only at /usr/share/nginx/html (subPath site) in container nginx") {
		t.Errorf("second result: %+v", r)
	}

	// Idempotent: a second run leaves the files as they are.
	if r := fnRun("results"); r.code != 0 {
		t.Fatalf("second kustomize fn run: exit %d\n%s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(k8s, "deployment.yaml")); string(again) != string(out) {
		t.Errorf("a second run changed deployment.yaml:\n%s\n---\n%s", out, again)
	}

	// An error result fails the run and is written to the results.
	os.WriteFile(filepath.Join(work, "assets-fn.yaml"), []byte(strings.Replace(fn, "containers: [nginx]", "containers: [web]", 1)), 0o644)
	os.MkdirAll(filepath.Join(work, "failed"), 0o755)
	r = fnRun("failed")
	if r.code == 0 || !strings.Contains(r.stderr, `spec.containers: deployment/web has no container "web" (it has: nginx)`) {
		t.Errorf("kustomize fn run with a bad container: exit %d\n%s", r.code, r.stderr)
	}
	if res, _ := os.ReadFile(filepath.Join(work, "failed", "results-0.yaml")); !strings.Contains(string(res), "severity: error") ||
		!strings.Contains(string(res), "path: spec.containers") || !strings.Contains(string(res), "path: assets-fn.yaml") {
		t.Errorf("results of the failed run:\n%s", res)
	}
	if after, _ := os.ReadFile(filepath.Join(k8s, "deployment.yaml")); string(after) != string(out) {
		t.Errorf("the failed run changed deployment.yaml:\n%s", after)
	}
}

// TestKRMKpt runs the function with kpt fn eval --exec and key=value
// arguments (a ConfigMap functionConfig); kpt prints the results.
func TestKRMKpt(t *testing.T) {
	kpt := tool(t, "kpt")
	dir := t.TempDir()
	dep, _ := os.ReadFile("../examples/kustomize-fn/deployment.yaml")
	os.WriteFile(filepath.Join(dir, "deployment.yaml"), dep, 0o644)
	r := runEnv(t, dir, nil, "", kpt, "fn", "eval", ".", "--exec", bin+" krm", "--",
		"image=registry.example.com/web/site-assets@sha256:"+strings.Repeat("5e", 32), "workload=deployment/web", "containers=nginx",
		"mountPath=/usr/share/nginx/html", "subPath=site")
	if r.code != 0 || !strings.Contains(r.stderr, "deployment/web mounts") {
		t.Fatalf("kpt fn eval: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "deployment.yaml"))
	deploymentOf(t, out, "registry.example.com/web/site-assets@sha256:")
}

// TestKRMDocumentedCommands runs the command lines of the README's
// "Kustomize function" section and of examples/kustomize-fn/README.md as
// written, from the repository root (with /tmp/ moved into a temporary
// directory).
func TestKRMDocumentedCommands(t *testing.T) {
	tool(t, "kustomize")
	tool(t, "kpt")
	for _, doc := range []string{"README.md", "examples/kustomize-fn/README.md"} {
		t.Run(doc, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", doc))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if doc == "README.md" {
				s = s[strings.Index(s, "## Kustomize function"):]
				s = s[:strings.Index(s[3:], "\n## ")+3]
			}
			tmp := t.TempDir() + "/"
			var script []string
			for _, block := range strings.Split(s, "```sh\n")[1:] {
				block, _, _ = strings.Cut(block, "```")
				for _, line := range strings.Split(block, "\n") {
					script = append(script, strings.ReplaceAll(line, "/tmp/", tmp))
				}
			}
			if len(script) < 3 {
				t.Fatalf("no commands found in %s", doc)
			}
			r := runEnv(t, "..", withBin(), "", "bash", "-e", "-x", "-c", strings.Join(script, "\n"))
			if r.code != 0 {
				t.Fatalf("%s: exit %d\n%s", doc, r.code, r.stderr)
			}
		})
	}
}
