//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

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
			If    string            `json:"if"`
			Env   map[string]string `json:"env"`
			Run   string            `json:"run"`
			Uses  string            `json:"uses"`
			With  map[string]string `json:"with"`
		} `json:"steps"`
	} `json:"runs"`
}

var (
	expr = regexp.MustCompile(`\$\{\{\s*([a-z._-]+)\s*\}\}`)
	// condRe is the one form of a step's if: the action uses.
	condRe = regexp.MustCompile(`^inputs\.([a-z-]+) (==|!=) '([a-z]*)'$`)
)

// TestGitHubAction executes the composite action's steps the way the
// runner does — inputs through env, if: conditions, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY and GITHUB_PATH files — against the local registry,
// building assetpack from this checkout (install: source), and checks every
// declared output, the labels, annotations and signature format passed on,
// the layer cache the actions/cache step saves, and the job summary. The
// two actions it uses are stood in for: sigstore/cosign-installer (cosign
// v2.6.5 from the e2e tools; skipped here by install: source) and
// actions/cache (its path must be the cache the build step uses).
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
		"patch-mount-path": "/usr/share/nginx/html", "install": "source", "signature-format": "both",
		"labels": "org.opencontainers.image.title=site\n  team=web, frontend\n", "annotations": "org.opencontainers.image.vendor=Acme",
	}
	for k := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
	}
	runnerTemp := filepath.Join(work, "runner-temp")
	os.MkdirAll(runnerTemp, 0o755)
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
			case key == "github.token", key == "github.action_ref":
				return ""
			case key == "runner.temp":
				return runnerTemp
			case key == "runner.os":
				return "Linux"
			case key == "github.job":
				return "assets"
			case key == "github.sha":
				return "0123456789abcdef0123456789abcdef01234567"
			}
			t.Fatalf("unsupported expression %s", m)
			return ""
		})
	}
	ghPath := filepath.Join(work, "github-path")
	summary := filepath.Join(work, "step-summary")
	outputs := map[string]map[string]string{}
	path := os.Getenv("PATH")
	cacheStep := false
	for _, s := range a.Runs.Steps {
		if !stepRuns(t, s.If, func(name string) string {
			if v, ok := inputs[name]; ok {
				return v
			}
			return a.Inputs[name].Default
		}) {
			continue
		}
		switch {
		case strings.HasPrefix(s.Uses, "actions/cache@"):
			// Restores nothing on a first run; saves path after the job.
			if got, want := eval(s.With["path"]), filepath.Join(runnerTemp, "assetpack-layers"); got != want {
				t.Errorf("actions/cache path = %q, want the build step's cache %q", got, want)
			}
			if k := eval(s.With["key"]); !strings.Contains(k, "assetpack-layers-Linux-assets-0123456789abcdef") || strings.Contains(eval(s.With["restore-keys"]), "0123456789abcdef") {
				t.Errorf("actions/cache key %q, restore-keys %q: want a key per commit, restored from earlier commits", k, eval(s.With["restore-keys"]))
			}
			cacheStep = true
			continue
		case strings.HasPrefix(s.Uses, "sigstore/cosign-installer@"):
			path = filepath.Dir(cosignCLI(t, "v2.6.5")) + ":" + path
			continue
		case s.Uses != "":
			t.Fatalf("step %q uses %s: the test knows no stand-in for it", s.Name, s.Uses)
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
	if got["tags"] != reg.Host+"/web/site:v1,"+reg.Host+"/web/site:latest" {
		t.Errorf("tags output = %q", got["tags"])
	}
	for name := range a.Outputs {
		if got[name] == "" {
			t.Errorf("output %s is declared but not set", name)
		}
	}
	// Labels (one per line, commas kept) in the config, annotations on the manifest.
	crane := tool(t, "crane")
	if c := run(t, work, crane, "config", "--insecure", got["ref"]); !strings.Contains(c, `"team":"web, frontend"`) || !strings.Contains(c, `"org.opencontainers.image.title":"site"`) {
		t.Errorf("config labels: %s", c)
	}
	if m := run(t, work, crane, "manifest", "--insecure", got["ref"]); !strings.Contains(m, `"org.opencontainers.image.vendor":"Acme"`) {
		t.Errorf("manifest annotations: %s", m)
	}
	// signature-format: both also writes cosign v2's .sig tag.
	if !tagExists(t, reg.Host+"/web/site:"+strings.Replace(got["digest"], ":", "-", 1)+".sig") {
		t.Error("signature-format both: no legacy .sig tag")
	}
	// The layer cache the actions/cache step saves was written.
	if !cacheStep {
		t.Error("the action has no actions/cache step for the layer cache")
	}
	if ents, err := os.ReadDir(filepath.Join(runnerTemp, "assetpack-layers")); err != nil || len(ents) == 0 {
		t.Errorf("layer cache %s: %v, %d entries", filepath.Join(runnerTemp, "assetpack-layers"), err, len(ents))
	}
	s := readFile(t, summary)
	for _, want := range []string{got["digest"], "| size |", "| upload |", "skipped", "<code>k8s/assets-patch.yaml</code>", got["ref"]} {
		if !strings.Contains(s, want) {
			t.Errorf("step summary lacks %q:\n%s", want, s)
		}
	}

	// sbom: true is passed on only to an assetpack whose build has --sbom.
	var build string
	for _, st := range a.Runs.Steps {
		if st.ID == "build" {
			build = st.Run
		}
	}
	help := runEnv(t, work, nil, "", bin, "build", "--help").stdout
	r := runEnv(t, work, []string{"PATH=" + path, "INPUT_SBOM=true", "INPUT_PATH=site", "ACTION_PATH=" + root}, "", "bash", "-c", eval(build))
	if !strings.Contains(help, "--sbom") && (r.code != 2 || !strings.Contains(r.stderr, "needs an assetpack whose build has --sbom")) {
		t.Errorf("sbom: true with an assetpack without --sbom: exit %d: %s", r.code, r.stderr)
	}
}

// stepRuns evaluates a step's if: (empty, or inputs.NAME == 'VALUE' or !=).
func stepRuns(t *testing.T, cond string, input func(string) string) bool {
	t.Helper()
	if cond == "" {
		return true
	}
	m := condRe.FindStringSubmatch(strings.TrimSpace(cond))
	if m == nil {
		t.Fatalf("if: %q is not of a form the test evaluates", cond)
	}
	return (input(m[1]) == m[3]) == (m[2] == "==")
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
// workflow with install: release does, against a release served from
// 127.0.0.1 (the release-url input, as for a mirror): an archive named and
// laid out like GoReleaser's, its checksums.txt and the signature of that.
// The success path uses a mirror's key (release-public-key, cosign
// sign-blob --key with the stock cosign v2.6.5 CLI): the keyless
// signature of the real release needs Fulcio and Rekor, which this
// machine cannot reach, so for the default keyless check only the failure
// paths are tested (a certificate from a CA that is not Fulcio, a missing
// certificate, a missing signature). Then: the version is the latest
// release (followed from RELEASES/latest) when none is given, or the
// action's own tag; assetpack-sigstore is installed beside assetpack, and
// an archive of a release from before it (assetpack alone) still installs;
// a tampered checksums.txt, a tampered archive, an unlisted archive,
// another key and a missing release are refused, and nothing is installed.
func TestActionInstallsRelease(t *testing.T) {
	var a actionFile
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"release-url", "install", "version", "release-public-key", "release-certificate-identity-regexp", "release-certificate-oidc-issuer"} {
		if _, ok := a.Inputs[in]; !ok {
			t.Fatalf("action.yml has no %s input", in)
		}
	}
	if a.Inputs["install"].Default != "release" {
		t.Errorf("install defaults to %q, want release", a.Inputs["install"].Default)
	}
	install, cosignStep := -1, false
	for i, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "install.sh") {
			install = i
		}
		if strings.HasPrefix(s.Uses, "sigstore/cosign-installer@") && install < 0 {
			cosignStep = true
		}
	}
	if install < 0 || !cosignStep {
		t.Fatalf("action.yml: install step %d, cosign installed before it: %v", install, cosignStep)
	}
	step := a.Runs.Steps[install]
	cosign := cosignCLI(t, "v2.6.5")
	keys := t.TempDir()
	for _, k := range []string{"mirror", "other"} {
		if r := runEnv(t, filepath.Join(keys), []string{"COSIGN_PASSWORD=pw"}, "", cosign, "generate-key-pair", "--output-key-prefix", k); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	sign := func(file string) {
		t.Helper()
		r := runEnv(t, keys, []string{"COSIGN_PASSWORD=pw"}, "", cosign, "sign-blob", "--yes", "--key", "mirror.key", "--tlog-upload=false",
			"--output-signature", file+".sig", file)
		if r.code != 0 {
			t.Fatalf("cosign sign-blob: %s", r.stderr)
		}
	}

	// The release directory: v1.2.3/assetpack_1.2.3_OS_ARCH.tar.gz, checksums.txt(.sig).
	releases := t.TempDir()
	rel := filepath.Join(releases, "v1.2.3")
	os.MkdirAll(rel, 0o755)
	archive := fmt.Sprintf("assetpack_1.2.3_%s_%s.tar.gz", runtime.GOOS, runtime.GOARCH)
	// The e2e binary (a default build) stands in for both builds.
	writeTarGz(t, filepath.Join(rel, archive), map[string]string{"assetpack": bin, "assetpack-sigstore": bin, "README.md": filepath.Join(repoRoot(t), "README.md")})
	checksums := filepath.Join(rel, "checksums.txt")
	writeSums := func(lines string) {
		os.WriteFile(checksums, []byte(lines), 0o644)
		sign(checksums)
	}
	sum := func() string {
		data, _ := os.ReadFile(filepath.Join(rel, archive))
		return fmt.Sprintf("%x  %s\n", sha256.Sum256(data), archive)
	}
	writeSums(sum())
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(releases)))
	// As GitHub does: RELEASES/latest redirects to RELEASES/tag/VERSION.
	mux.Handle("/latest", http.RedirectHandler("/tag/v1.2.3", http.StatusFound))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	type opts struct{ version, ref, key string }
	runInstall := func(o opts) (cmdResult, string) {
		work := t.TempDir()
		ghPath := filepath.Join(work, "github-path")
		in := map[string]string{"install": "release", "version": o.version, "release-url": srv.URL, "release-public-key": o.key}
		env := []string{"RUNNER_TEMP=" + filepath.Join(work, "tmp"), "GITHUB_PATH=" + ghPath,
			"PATH=" + filepath.Dir(cosign) + ":" + os.Getenv("PATH"), "HOME=" + work}
		for k, v := range step.Env {
			v = expr.ReplaceAllStringFunc(v, func(m string) string {
				key := expr.FindStringSubmatch(m)[1]
				switch {
				case strings.HasPrefix(key, "inputs."):
					name := strings.TrimPrefix(key, "inputs.")
					if v, ok := in[name]; ok {
						return v
					}
					return a.Inputs[name].Default
				case key == "github.action_path":
					return repoRoot(t)
				case key == "github.action_ref":
					return o.ref
				}
				t.Fatalf("unsupported expression %s", m)
				return ""
			})
			env = append(env, k+"="+v)
		}
		r := runEnv(t, work, env, "", "bash", "-c", strings.ReplaceAll(step.Run, "${{ github.action_path }}", repoRoot(t)))
		p, _ := os.ReadFile(ghPath)
		return r, strings.TrimSpace(string(p))
	}
	mirrorKey, otherKey := filepath.Join(keys, "mirror.pub"), filepath.Join(keys, "other.pub")

	r, dir := runInstall(opts{version: "v1.2.3", key: mirrorKey})
	if r.code != 0 || dir == "" || !strings.Contains(r.stderr, "checksums.txt of v1.2.3 is signed by the key") {
		t.Fatalf("install v1.2.3: exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"assetpack", "assetpack-sigstore"} {
		if v := runEnv(t, dir, nil, "", filepath.Join(dir, name), "version"); v.code != 0 {
			t.Fatalf("installed %s: exit %d: %s", name, v.code, v.stderr)
		}
	}
	// No version: the latest release; at a release tag: that release.
	if r, dir := runInstall(opts{key: mirrorKey}); r.code != 0 || dir == "" || !strings.Contains(r.stderr, "latest release: v1.2.3") {
		t.Errorf("install latest: exit %d: %s", r.code, r.stderr)
	}
	if r, dir := runInstall(opts{ref: "v1.2.3", key: mirrorKey}); r.code != 0 || dir == "" || strings.Contains(r.stderr, "latest release") {
		t.Errorf("install at the action's tag: exit %d: %s", r.code, r.stderr)
	}
	// An archive of an older release holds assetpack alone.
	writeTarGz(t, filepath.Join(rel, archive), map[string]string{"assetpack": bin, "README.md": filepath.Join(repoRoot(t), "README.md")})
	writeSums(sum())
	if r, dir := runInstall(opts{version: "v1.2.3", key: mirrorKey}); r.code != 0 || dir == "" {
		t.Errorf("install of an archive without assetpack-sigstore: exit %d: %s", r.code, r.stderr)
	} else if _, err := os.Stat(filepath.Join(dir, "assetpack")); err != nil {
		t.Errorf("install of an archive without assetpack-sigstore: %v", err)
	}

	refused := func(name string, o opts, want string) {
		t.Helper()
		if r, dir := runInstall(o); r.code == 0 || !strings.Contains(r.stderr, want) || dir != "" {
			t.Errorf("%s: exit %d, GITHUB_PATH %q, want an error with %q: %s", name, r.code, dir, want, r.stderr)
		}
	}
	refused("another key", opts{version: "v1.2.3", key: otherKey}, "does not verify as signed by the key")
	// Keyless (the default): no certificate, then one that Fulcio did not issue.
	refused("keyless, no certificate", opts{version: "v1.2.3"}, "checksums.txt.pem: the keyless signature has no certificate")
	writeFakeFulcioCert(t, filepath.Join(rel, "checksums.txt.pem"))
	refused("keyless, certificate of another CA", opts{version: "v1.2.3"}, `does not verify as signed by an identity matching ^https://github\.com/assetpack/assetpack/\.github/workflows/release\.yml@refs/tags/v`)

	// checksums.txt changed after it was signed: refused before its checksum is used.
	f, _ := os.OpenFile(checksums, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(fmt.Sprintf("%x  evil.tar.gz\n", sha256.Sum256(nil)))
	f.Close()
	refused("tampered checksums.txt", opts{version: "v1.2.3", key: mirrorKey}, "does not verify")
	// One byte changed in the archive after checksums.txt was signed.
	writeSums(sum())
	f, _ = os.OpenFile(filepath.Join(rel, archive), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	refused("tampered archive", opts{version: "v1.2.3", key: mirrorKey}, "checksum mismatch")
	writeSums("0000  other.tar.gz\n")
	refused("archive not in checksums.txt", opts{version: "v1.2.3", key: mirrorKey}, "does not list")
	os.Remove(checksums + ".sig")
	refused("no signature", opts{version: "v1.2.3", key: mirrorKey}, "the release is not signed")
	refused("missing release", opts{version: "v9.9.9", key: mirrorKey}, "is v9.9.9 a release?")
}

// writeFakeFulcioCert writes a certificate shaped like Fulcio's for the
// release workflow (URI identity, OIDC issuer extension), issued by a CA
// of the test's own: no verifier that trusts Fulcio accepts it.
func writeFakeFulcioCert(t *testing.T, dst string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id, _ := url.Parse("https://github.com/assetpack/assetpack/.github/workflows/release.yml@refs/tags/v1.2.3")
	issuer, _ := asn1.Marshal("https://token.actions.githubusercontent.com")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{}, URIs: []*url.URL{id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte("https://token.actions.githubusercontent.com")},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuer},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dst, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
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
