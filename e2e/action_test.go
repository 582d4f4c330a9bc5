//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestWorkflowsLint runs actionlint over the example workflows.
func TestWorkflowsLint(t *testing.T) {
	actionlint := tool(t, "actionlint")
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "examples", "github-actions", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("found %d example workflows", len(files))
	}
	r := runEnv(t, repoRoot(t), nil, "", actionlint, append([]string{"-no-color"}, files...)...)
	if r.code != 0 {
		t.Errorf("actionlint: %s%s", r.stdout, r.stderr)
	}
}
