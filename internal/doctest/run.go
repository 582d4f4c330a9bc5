package doctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Config says what a run has.
type Config struct {
	// Root is the repository root: the documents, examples/ and
	// testdata/site.
	Root string
	// Registry is host:port of a registry on 127.0.0.1.
	Registry string
	// Assetpack is the binary under test; Env is more environment for
	// every program (for a test binary that re-executes itself).
	Assetpack string
	Env       []string
	// Tools are the third-party programs of ThirdParty that this run has,
	// name → path.
	Tools map[string]string
	// ThirdPartyOnly runs only the blocks that use a third-party program
	// (the end-to-end half; the unit suite runs the rest).
	ThirdPartyOnly bool
}

// ThirdParty are the programs that the documentation uses besides
// assetpack and a POSIX system's own, which only the end-to-end suite
// installs: a command using one runs there.
var ThirdParty = map[string]bool{"kustomize": true, "kpt": true, "jq": true}

// system are the programs every machine running the tests has.
var system = map[string]bool{"mkdir": true, "cp": true, "ls": true, "tar": true, "cat": true, "rm": true, "mv": true}

// epoch is the timestamp of the images pushed before a block runs.
const epoch = "1700000000"

type kind int

const (
	runIt kind = iota
	allowed
	deferred
	unknown
)

type plan struct {
	Command
	kind     kind
	why      string
	programs []string
}

// classify decides what happens to c, listing the programs it runs.
func classify(c Command, tools map[string]string) plan {
	p := plan{Command: c}
	if why, ok := AllowList[c.Text]; ok {
		p.kind, p.why = allowed, why
		return p
	}
	var text []string
	for _, l := range c.Lines {
		text = append(text, Substitute(l, placeholderValues, 0))
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(strings.Join(text, "\n")), c.File)
	if err != nil {
		p.kind, p.why = unknown, err.Error()
		return p
	}
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if ce, ok := n.(*syntax.CallExpr); ok && len(ce.Args) > 0 {
			name := ce.Args[0].Lit()
			if name == "" {
				name = "(not a literal word)"
			}
			if !seen[name] {
				seen[name] = true
				p.programs = append(p.programs, name)
			}
		}
		return true
	})
	for _, name := range p.programs {
		switch {
		case name == "assetpack" || name == "bin/assetpack" || name == "go" || name == "kubectl" ||
			system[name] || interp.IsBuiltin(name):
		case ThirdParty[name]:
			if tools[name] == "" {
				p.kind, p.why = deferred, name
			}
		default:
			p.kind, p.why = unknown, fmt.Sprintf("runs %s, which the documentation test does not have: add it to doctest.ThirdParty (and to the e2e tools), or list the command in doctest.AllowList with the reason", name)
			return p
		}
	}
	return p
}

// CheckAllowList reports AllowList entries that name no documented command.
func CheckAllowList(t *testing.T, cmds []Command) {
	t.Helper()
	texts := map[string]bool{}
	for _, c := range cmds {
		texts[c.Text] = true
	}
	for k := range AllowList {
		if !texts[k] {
			t.Errorf("doctest.AllowList names %q, which the documentation no longer has: remove the entry", k)
		}
	}
}

// Run runs the commands: one subtest per block, which runs its commands in
// order (each choice of a synopsis' a|b|c), skipping the allow-listed ones
// and, without their tools, those that use a third-party program.
func Run(t *testing.T, cmds []Command, cfg Config) {
	t.Helper()
	shared := setup(t, cfg)
	blocks := map[int][]plan{}
	var order []int
	for _, c := range cmds {
		if _, ok := blocks[c.Block]; !ok {
			order = append(order, c.Block)
		}
		blocks[c.Block] = append(blocks[c.Block], classify(c, cfg.Tools))
	}
	var ran, allowedN, deferredN int
	// Blocks run in parallel, each in its own workspace and repositories;
	// the commands of a block run in order.
	t.Run("blocks", func(t *testing.T) {
		for _, b := range order {
			ps := blocks[b]
			third := false
			for _, p := range ps {
				for _, name := range p.programs {
					third = third || ThirdParty[name]
				}
			}
			if cfg.ThirdPartyOnly && !third {
				continue
			}
			for _, p := range ps {
				switch p.kind {
				case allowed:
					allowedN++
				case deferred:
					deferredN++
				case runIt:
					ran += Alternatives(p.Command)
				}
			}
			t.Run(ps[0].Where(), func(t *testing.T) {
				t.Parallel()
				var r *blockRun
				for _, p := range ps {
					switch p.kind {
					case allowed:
						t.Logf("%s: not run: %s: %s", p.Where(), p.Text, p.why)
						continue
					case deferred:
						t.Logf("%s: runs in the e2e suite (needs %s): %s", p.Where(), p.why, p.Text)
						continue
					case unknown:
						t.Errorf("%s: %s: %s", p.Where(), p.Text, p.why)
						continue
					}
					if r == nil {
						r = newBlock(t, cfg, shared, b, ps)
					}
					for alt := range Alternatives(p.Command) {
						r.run(t, p, alt)
					}
				}
			})
		}
	})
	t.Logf("documented commands: %d runs, %d allow-listed, %d left to the e2e suite", ran, allowedN, deferredN)
}

// shared holds what every block starts from.
type sharedDir struct {
	dir, bin, digest string
	// base is the signed image by digest, to copy into a block's repositories.
	base string
}

func setup(t *testing.T, cfg Config) sharedDir {
	t.Helper()
	s := sharedDir{dir: t.TempDir()}
	s.bin = filepath.Join(s.dir, "bin")
	must(t, os.MkdirAll(s.bin, 0o755))
	must(t, os.Symlink(cfg.Assetpack, filepath.Join(s.bin, "assetpack")))
	for name, path := range cfg.Tools {
		must(t, os.Symlink(path, filepath.Join(s.bin, name)))
	}
	must(t, copyTree(filepath.Join(cfg.Root, "testdata", "site"), filepath.Join(s.dir, "site")))
	env := s.env(cfg, s.dir, "")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cfg.Assetpack, args...)
		cmd.Dir, cmd.Env = s.dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("setup: assetpack %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(stdout.String())
	}
	run("generate-key-pair")
	ref := run("build", "site", "--prefix", "site", "--git=false", "--source-date-epoch", epoch, "--output", "oci:prefixed")
	_, s.digest, _ = strings.Cut(ref, "@sha256:")
	s.base = cfg.Registry + "/doctest/base@sha256:" + s.digest
	// Signed as build --sign does by default: a signature, an SBOM and the
	// provenance (sign alone attests no provenance: it did not build).
	run("build", "site", "--prefix", "site", "--git=false", "--source-date-epoch", epoch, "-t", cfg.Registry+"/doctest/base:v1", "--push", "--sign", "--key", "cosign.key", "-q")
	// The outputs the documentation reads without building them first.
	for _, out := range []string{"oci:assetpack-out/site", "oci:out/site", "oci:out/old", "oci:out/new", "tar:site.tar"} {
		run("build", "site", "--git=false", "--source-date-epoch", epoch, "--output", out)
	}
	return s
}

// env is the whole environment of a block's programs: nothing of the
// machine's but its system directories, so no credentials leak in.
func (s sharedDir) env(cfg Config, home, tmp string) []string {
	env := []string{
		"PATH=" + s.bin + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"ASSETPACK_CACHE_DIR=" + filepath.Join(s.dir, "cache"),
		"LANG=C.UTF-8",
		// The password the documentation writes as COSIGN_PASSWORD=…,
		// and the tokens it pipes to login.
		"COSIGN_PASSWORD=…",
		"TOKEN=doc-test-token",
		"GHCR_TOKEN=doc-test-token",
		// Tests talk only to 127.0.0.1: should a KMS command run (they are
		// allow-listed), the cloud SDKs must not look for credentials in
		// instance metadata services off this machine.
		"AWS_EC2_METADATA_DISABLED=true",
		"GCE_METADATA_HOST=127.0.0.1:9",
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}
	if tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return append(env, cfg.Env...)
}

type blockRun struct {
	cfg    Config
	ws     string
	values Values
	runner *interp.Runner
}

// newBlock prepares a workspace with the inputs the documentation assumes
// and copies the signed image into every repository the block names.
func newBlock(t *testing.T, cfg Config, s sharedDir, block int, ps []plan) *blockRun {
	t.Helper()
	ws := t.TempDir()
	v := Values{Registry: cfg.Registry, Namespace: fmt.Sprintf("b%d", block), Digest: s.digest, Tmp: filepath.Join(ws, "tmp")}
	must(t, os.MkdirAll(v.Tmp, 0o755))
	must(t, copyTree(filepath.Join(s.dir, "site"), filepath.Join(ws, "site")))
	// The outputs the block reads without writing them first; one it
	// writes (--output tar:site.tar) starts absent, as for a reader.
	var written []string
	for _, p := range ps {
		for _, m := range outputFlag.FindAllStringSubmatch(p.Text, -1) {
			written = append(written, m[1])
		}
	}
	for _, d := range []string{"assetpack-out/site", "out/site", "out/old", "out/new", "site.tar"} {
		if slices.Contains(written, d) {
			continue
		}
		must(t, copyTree(filepath.Join(s.dir, d), filepath.Join(ws, d)))
	}
	must(t, copyTree(filepath.Join(cfg.Root, "examples"), filepath.Join(ws, "examples")))
	generates := false
	var text []string
	for _, p := range ps {
		generates = generates || strings.Contains(p.Text, "generate-key-pair")
		for _, l := range p.Lines {
			text = append(text, Substitute(l, v, 0))
		}
	}
	if !generates {
		for _, f := range []string{"cosign.key", "cosign.pub"} {
			must(t, copyFile(filepath.Join(s.dir, f), filepath.Join(ws, f)))
		}
	}
	must(t, os.MkdirAll(filepath.Join(ws, "model"), 0o755))
	must(t, os.WriteFile(filepath.Join(ws, "model", "config.json"), []byte(`{"hidden_size": 64}`+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(ws, "model", "weights.bin"), bytes.Repeat([]byte("assetpack doc test weights "), 4096), 0o644))
	for name, data := range inputs {
		p := filepath.Join(ws, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	// migrate's deploy.yaml: the init-container copy it rewrites, a
	// deployment/web with one container for patch -f.
	must(t, copyFile(filepath.Join(cfg.Root, "examples", "site", "k8s", "old-init-copy.yaml"), filepath.Join(ws, "deploy.yaml")))

	// The signed image in every repository the block names.
	home := filepath.Join(ws, ".home")
	env := s.env(cfg, home, v.Tmp)
	repos := map[string][]string{}
	prefix := regexp.QuoteMeta(v.Registry + "/" + v.Namespace + "/")
	for _, m := range regexp.MustCompile(prefix+`[a-z0-9._/-]*[a-z0-9]((?::[A-Za-z0-9._-]+)|@sha256:[0-9a-f]{64})?([/*]*)`).FindAllStringSubmatch(strings.Join(text, "\n"), -1) {
		if m[2] != "" {
			continue // a pattern (policy --image 'REPO/*'), not a repository
		}
		repo := strings.TrimSuffix(strings.TrimSuffix(m[0], m[1]), "/")
		tag := "latest"
		if strings.HasPrefix(m[1], ":") {
			tag = m[1][1:]
		}
		repos[repo] = append(repos[repo], tag)
	}
	// Copied from the image signed once in setup, with its signature and
	// attestation: a copy takes a fraction of a signing's key decryption.
	var names []string
	for repo := range repos {
		names = append(names, repo)
	}
	sort.Strings(names)
	for _, repo := range names {
		for _, tag := range repos[repo] {
			setupRun(t, cfg, s.dir, env, "copy", s.base, repo+":"+tag, "-q")
		}
	}
	r, err := interp.New(interp.Env(expand.ListEnviron(env...)), interp.Dir(ws), interp.ExecHandlers(standIns(cfg)))
	must(t, err)
	// A pipeline fails when any part of it does (`assetpack … | jq`).
	pipefail, err := syntax.NewParser().Parse(strings.NewReader("set -o pipefail"), "")
	must(t, err)
	must(t, r.Run(context.Background(), pipefail))
	return &blockRun{cfg: cfg, ws: ws, values: v, runner: r}
}

func setupRun(t *testing.T, cfg Config, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(cfg.Assetpack, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup: assetpack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// outputFlag is an output a command writes: --output/-o oci:DIR or tar:FILE.
var outputFlag = regexp.MustCompile(`(?:--output|-o)[ =](?:oci:|tar:)?(\S+)`)

// inputs are the files the documentation assumes besides ./site, ./model,
// the key pair and examples/.
var inputs = map[string]string{
	// resolve's example: k8s/web.yaml names assetpack://./site. It is the
	// deployment/web that the patch examples mount the image in, with one
	// container.
	"k8s/web.yaml": `apiVersion: apps/v1
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
          volumeMounts:
            - {name: site, mountPath: /usr/share/nginx/html}
      volumes:
        - name: site
          image: {reference: assetpack://./site}
`,
}

// run runs variant alt of one command and checks its exit status and
// output.
func (r *blockRun) run(t *testing.T, p plan, alt int) {
	t.Helper()
	var lines []string
	for _, l := range p.Lines {
		lines = append(lines, Substitute(l, r.values, alt))
	}
	script := strings.Join(lines, "\n")
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), p.File)
	if err != nil {
		t.Errorf("%s: parsing %q: %v", p.Where(), script, err)
		return
	}
	var stdout, stderr bytes.Buffer
	must(t, interp.StdIO(nil, &stdout, &stderr)(r.runner))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	err = r.runner.Run(ctx, f)
	label := p.Where()
	if alt > 0 || Alternatives(p.Command) > 1 {
		label += fmt.Sprintf(" (choice %d)", alt+1)
	}
	if err != nil {
		code, _ := interp.IsExitStatus(err)
		t.Errorf("%s: %s\nran: %s\nexit %d (%v)\nstdout:\n%s\nstderr:\n%s", label, p.Text, script, code, err, stdout.String(), stderr.String())
		return
	}
	out := strings.TrimSpace(stdout.String())
	if p.Want != "" {
		if re := wantPattern(p.Want, r.values); !re.MatchString(out) {
			t.Errorf("%s: %s\nstdout %q does not have the documented shape %q (%s)", label, p.Text, out, p.Want, re)
		}
	}
	if strings.Contains(p.Text, "| jq ") && (out == "" || out == "null") {
		t.Errorf("%s: %s\nthe jq filter finds nothing in the JSON (stdout %q): a field the documentation names is missing", label, p.Text, out)
	}
	if strings.Contains(p.Text, " --json") && !strings.ContainsAny(p.Text, "|>") && !json.Valid([]byte(out)) {
		t.Errorf("%s: %s\n--json printed what is not JSON:\n%s", label, p.Text, out)
	}
	t.Logf("%s: ok (%.1fs): %s", label, time.Since(start).Seconds(), p.Text)
}

// standIns intercept what cannot run as written: `go build` of the
// binary under test (the test already built it) and `kubectl apply -f -`
// (there is no cluster: its input is checked to be Kubernetes objects).
// Third-party programs this run lacks are refused, in case one slipped
// past classify.
func standIns(cfg Config) func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
		return func(ctx context.Context, args []string) error {
			hc := interp.HandlerCtx(ctx)
			switch {
			case args[0] == "go":
				if len(args) == 5 && args[1] == "build" && args[2] == "-o" && args[4] == "./cmd/assetpack" {
					out := filepath.Join(hc.Dir, args[3])
					if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
						return err
					}
					return os.Symlink(cfg.Assetpack, out)
				}
				fmt.Fprintf(hc.Stderr, "doctest: only `go build -o FILE ./cmd/assetpack` is stood in for, not %q\n", args)
				return interp.NewExitStatus(127)
			case args[0] == "kubectl":
				if strings.Join(args[1:], " ") != "apply -f -" {
					fmt.Fprintf(hc.Stderr, "doctest: only `kubectl apply -f -` is stood in for, not %q\n", args)
					return interp.NewExitStatus(127)
				}
				return kubectlApply(hc.Stdin, hc.Stdout, hc.Stderr)
			case ThirdParty[args[0]] && cfg.Tools[args[0]] == "":
				fmt.Fprintf(hc.Stderr, "doctest: %s is not available in this run\n", args[0])
				return interp.NewExitStatus(127)
			}
			return next(ctx, args)
		}
	}
}

// kubectlApply stands in for `kubectl apply -f -`: every document must be
// a Kubernetes object (apiVersion, kind, metadata.name).
func kubectlApply(stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(stdin, 4096)
	n := 0
	for {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "kubectl (doc test stand-in): %v\n", err)
			return interp.NewExitStatus(1)
		}
		if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
			fmt.Fprintf(stderr, "kubectl (doc test stand-in): a document without apiVersion, kind or metadata.name: %+v\n", obj)
			return interp.NewExitStatus(1)
		}
		fmt.Fprintf(stdout, "%s/%s created (doc test stand-in for kubectl apply)\n", strings.ToLower(obj.Kind), obj.Metadata.Name)
		n++
	}
	if n == 0 {
		fmt.Fprintln(stderr, "kubectl (doc test stand-in): no objects on stdin")
		return interp.NewExitStatus(1)
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyTree copies files, directories and symlinks, leaving out Go test
// files.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case strings.HasSuffix(p, "_test.go"):
			return nil
		default:
			return copyFile(p, target)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
