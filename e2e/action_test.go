//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type actionFile struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Author      string            `json:"author"`
	Branding    map[string]string `json:"branding"`
	Inputs      map[string]struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
		Default     string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
		Value       string `json:"value"`
	} `json:"outputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []struct {
			ID    string            `json:"id"`
			Name  string            `json:"name"`
			Shell string            `json:"shell"`
			Env   map[string]string `json:"env"`
			Run   string            `json:"run"`
			Uses  string            `json:"uses"`
		} `json:"steps"`
	} `json:"runs"`
}

var expr = regexp.MustCompile(`\$\{\{\s*([a-z._-]+)\s*\}\}`)

// TestGitHubAction executes the composite action's run: steps the way the
// runner does — inputs through env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
// GITHUB_PATH files — against the local registry, building assetpack from
// this checkout, and checks the outputs.
func TestGitHubAction(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	root := repoRoot(t)
	var a actionFile
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q", a.Runs.Using)
	}
	work := t.TempDir()
	makeSource(t, filepath.Join(work, "site"))
	if r := runEnv(t, work, []string{"COSIGN_PASSWORD=action-pw"}, "", bin, "generate-key-pair"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	inputs := map[string]string{
		"path": "site", "prefix": "site", "image": reg.Host + "/web/site", "tags": "v1, latest", "push": "true",
		"sign": "true", "key": "cosign.key", "patch-workload": "deployment/web", "patch-container": "nginx",
		"patch-mount-path": "/usr/share/nginx/html",
	}
	for k := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
	}
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			key := expr.FindStringSubmatch(m)[1]
			switch {
			case strings.HasPrefix(key, "inputs."):
				name := strings.TrimPrefix(key, "inputs.")
				if v, ok := inputs[name]; ok {
					return v
				}
				return a.Inputs[name].Default
			case key == "github.action_path":
				return root
			case key == "github.token":
				return ""
			}
			t.Fatalf("unsupported expression %s", m)
			return ""
		})
	}
	runnerTemp := filepath.Join(work, "runner-temp")
	os.MkdirAll(runnerTemp, 0o755)
	ghPath := filepath.Join(work, "github-path")
	summary := filepath.Join(work, "step-summary")
	outputs := map[string]map[string]string{}
	path := os.Getenv("PATH")
	for _, s := range a.Runs.Steps {
		if s.Uses != "" {
			t.Fatalf("step %q uses %s: the action must run without other actions", s.Name, s.Uses)
		}
		out := filepath.Join(work, "output-"+s.ID)
		os.WriteFile(out, nil, 0o644)
		env := []string{"PATH=" + path, "GITHUB_OUTPUT=" + out, "GITHUB_STEP_SUMMARY=" + summary, "GITHUB_PATH=" + ghPath,
			"RUNNER_TEMP=" + runnerTemp, "COSIGN_PASSWORD=action-pw", "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
		for k, v := range s.Env {
			env = append(env, k+"="+eval(v))
		}
		r := runEnv(t, work, env, "", "bash", "-c", eval(s.Run))
		if r.code != 0 {
			t.Fatalf("step %q: exit %d\n%s\n%s", s.Name, r.code, r.stdout, r.stderr)
		}
		// Like the runner: GITHUB_PATH entries go first on PATH for later steps.
		if p, err := os.ReadFile(ghPath); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
				if line != "" && !strings.Contains(path, line) {
					path = line + ":" + path
				}
			}
		}
		outputs[s.ID] = map[string]string{}
		o, _ := os.ReadFile(out)
		for _, line := range strings.Split(string(o), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				outputs[s.ID][k] = v
			}
		}
	}
	// The action's outputs map to the build step's outputs.
	got := map[string]string{}
	for name, o := range a.Outputs {
		m := regexp.MustCompile(`steps\.([a-z]+)\.outputs\.([a-z]+)`).FindStringSubmatch(o.Value)
		if m == nil {
			t.Fatalf("output %s = %q", name, o.Value)
		}
		got[name] = outputs[m[1]][m[2]]
	}
	if !strings.HasPrefix(got["ref"], reg.Host+"/web/site@sha256:") || !strings.HasSuffix(got["ref"], got["digest"]) || got["patch"] != "k8s/assets-patch.yaml" {
		t.Fatalf("action outputs = %v", got)
	}
	if p := readFile(t, filepath.Join(work, got["patch"])); !strings.Contains(p, got["ref"]) || !strings.Contains(p, "subPath: site") {
		t.Errorf("patch = %s", p)
	}
	if !tagExists(t, reg.Host+"/web/site:v1") || !tagExists(t, reg.Host+"/web/site:latest") {
		t.Error("the tags were not pushed")
	}
	if v := runEnv(t, work, nil, "", bin, "verify", got["ref"], "--key", "cosign.pub", "--insecure-ignore-tlog"); v.code != 0 {
		t.Errorf("the action's signature does not verify: %s", v.stderr)
	}
	if s := readFile(t, summary); !strings.Contains(s, got["digest"]) {
		t.Errorf("step summary = %q", s)
	}
}

// TestWorkflowsLint runs actionlint over the example workflows and the
// project's own release workflow.
func TestWorkflowsLint(t *testing.T) {
	actionlint := tool(t, "actionlint")
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "examples", "github-actions", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("found %d example workflows", len(files))
	}
	own, _ := filepath.Glob(filepath.Join(repoRoot(t), ".github", "workflows", "*.yml"))
	if len(own) < 1 {
		t.Fatal("no release workflow in .github/workflows")
	}
	files = append(files, own...)
	r := runEnv(t, repoRoot(t), nil, "", actionlint, append([]string{"-no-color"}, files...)...)
	if r.code != 0 {
		t.Errorf("actionlint: %s%s", r.stdout, r.stderr)
	}
}

// TestActionInstallsRelease runs the action's install step the way a
// workflow with `version:` does, against a release served from 127.0.0.1
// (the `release-url` input, as for a mirror): an archive named and laid out
// like GoReleaser's with its checksums.txt is installed and runs; a tampered
// archive, an unlisted one and a missing release are refused.
func TestActionInstallsRelease(t *testing.T) {
	var a actionFile
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Inputs["release-url"]; !ok {
		t.Fatal("action.yml has no release-url input")
	}
	install := -1
	for i, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "install.sh") {
			install = i
		}
	}
	if install < 0 {
		t.Fatal("no install step in action.yml")
	}
	step := a.Runs.Steps[install]

	// The release directory: v1.2.3/assetpack_1.2.3_OS_ARCH.tar.gz + checksums.txt.
	releases := t.TempDir()
	rel := filepath.Join(releases, "v1.2.3")
	os.MkdirAll(rel, 0o755)
	archive := fmt.Sprintf("assetpack_1.2.3_%s_%s.tar.gz", runtime.GOOS, runtime.GOARCH)
	writeTarGz(t, filepath.Join(rel, archive), map[string]string{"assetpack": bin, "README.md": filepath.Join(repoRoot(t), "README.md")})
	sum := func() string {
		data, _ := os.ReadFile(filepath.Join(rel, archive))
		return fmt.Sprintf("%x  %s\n", sha256.Sum256(data), archive)
	}
	os.WriteFile(filepath.Join(rel, "checksums.txt"), []byte(sum()), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(releases)))
	defer srv.Close()

	runInstall := func(version string) (cmdResult, string) {
		work := t.TempDir()
		ghPath := filepath.Join(work, "github-path")
		env := []string{"RUNNER_TEMP=" + filepath.Join(work, "tmp"), "GITHUB_PATH=" + ghPath}
		for k, v := range step.Env {
			switch {
			case strings.Contains(v, "inputs.version"):
				v = version
			case strings.Contains(v, "inputs.release-url"):
				v = srv.URL
			case strings.Contains(v, "github.action_path"):
				v = repoRoot(t)
			}
			env = append(env, k+"="+v)
		}
		r := runEnv(t, work, env, "", "bash", "-c", strings.ReplaceAll(step.Run, "${{ github.action_path }}", repoRoot(t)))
		p, _ := os.ReadFile(ghPath)
		return r, strings.TrimSpace(string(p))
	}

	r, dir := runInstall("v1.2.3")
	if r.code != 0 || dir == "" {
		t.Fatalf("install v1.2.3: exit %d: %s", r.code, r.stderr)
	}
	if v := runEnv(t, dir, nil, "", filepath.Join(dir, "assetpack"), "version"); v.code != 0 {
		t.Fatalf("installed binary: exit %d: %s", v.code, v.stderr)
	}

	// One byte changed after checksums.txt was written: refused.
	f, _ := os.OpenFile(filepath.Join(rel, archive), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	if r, dir := runInstall("v1.2.3"); r.code == 0 || !strings.Contains(r.stderr, "checksum mismatch") || dir != "" {
		t.Errorf("tampered archive: exit %d, GITHUB_PATH %q: %s", r.code, dir, r.stderr)
	}
	os.WriteFile(filepath.Join(rel, "checksums.txt"), []byte("0000  other.tar.gz\n"), 0o644)
	if r, _ := runInstall("v1.2.3"); r.code == 0 || !strings.Contains(r.stderr, "does not list") {
		t.Errorf("archive not in checksums.txt: exit %d: %s", r.code, r.stderr)
	}
	if r, _ := runInstall("v9.9.9"); r.code == 0 || !strings.Contains(r.stderr, "is v9.9.9 a release?") {
		t.Errorf("missing release: exit %d: %s", r.code, r.stderr)
	}
}

// writeTarGz writes a GoReleaser-like archive: name in archive → file on disk.
func writeTarGz(t *testing.T, dst string, files map[string]string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
