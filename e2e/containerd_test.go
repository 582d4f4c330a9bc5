//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// cri is a private containerd 2.x with its CRI plugin, driven by crictl.
type cri struct {
	t      testing.TB
	dir    string
	sock   string
	crictl string
}

// startContainerd starts containerd on a private root, state dir and
// socket, with the settings this sandbox needs (see the README's "What the
// end-to-end tests prove"): restrict_oom_score_adj, NRI off, a pause image from
// the local registry, plain HTTP to the local registry, host networking.
func startContainerd(t testing.TB, registryHost, pauseImage string) *cri {
	t.Helper()
	containerd := tool(t, "containerd")
	tool(t, "containerd-shim-runc-v2")
	tool(t, "runc")
	dir, err := os.MkdirTemp("", "apctr") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	c := &cri{t: t, dir: dir, sock: filepath.Join(dir, "c.sock"), crictl: tool(t, "crictl")}
	for _, d := range []string{"root", "state", "opt", "cni/conf", "cni/bin", "logs", "certs.d/" + registryHost} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "certs.d", registryHost, "hosts.toml"), []byte(fmt.Sprintf(
		"server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", registryHost, registryHost)), 0o644)
	cfg := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      conf_dir = %[5]q
      bin_dirs = [%[6]q]
  [plugins.'io.containerd.cri.v1.images']
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = %[7]q
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = %[8]q
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.internal.v1.opt']
    path = %[9]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, c.sock+".ttrpc",
		filepath.Join(dir, "cni/conf"), filepath.Join(dir, "cni/bin"), pauseImage,
		filepath.Join(dir, "certs.d"), filepath.Join(dir, "opt"))
	cfgFile := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	// Cleanups run last-in first-out: pods and shims go first, then
	// containerd stops, then its mounts and directory are removed.
	t.Cleanup(c.removeAll)
	startProcess(t, "containerd.log", containerd, "--config", cfgFile)
	t.Cleanup(c.cleanup)

	deadline := time.Now().Add(30 * time.Second)
	for {
		if r := c.run("version"); r.code == 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not come up on %s", c.sock)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cri) run(args ...string) cmdResult {
	c.t.Helper()
	full := append([]string{"--runtime-endpoint", "unix://" + c.sock, "--image-endpoint", "unix://" + c.sock, "--timeout", "60s"}, args...)
	return runEnv(c.t, c.dir, nil, "", c.crictl, full...)
}

func (c *cri) must(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("crictl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// cleanup removes pods (stopping their shims), kills any shim left behind
// by PID, and unmounts what containerd mounted under its directory.
func (c *cri) cleanup() {
	if r := c.run("pods", "-q"); r.code == 0 {
		for _, id := range strings.Fields(r.stdout) {
			c.run("stopp", id)
			c.run("rmp", "-f", id)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "containerd-shim") && strings.Contains(string(cmdline), c.sock) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (c *cri) removeAll() {
	f, err := os.Open("/proc/self/mountinfo")
	if err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && strings.HasPrefix(fields[4], c.dir) {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(c.dir)
}

// listing parses the output of "tool list".
func listing(t testing.TB, out string) map[string]node {
	t.Helper()
	m := map[string]node{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("bad listing line %q", line)
		}
		mode, _ := strconv.ParseUint(f[1], 10, 32)
		n := node{mode: os.FileMode(mode), data: f[2]}
		if n.mode&os.ModeSymlink != 0 {
			n.mode = os.ModeSymlink
		}
		m[f[0]] = n
	}
	return m
}

// readVolumes runs the given container of a pod spec through the CRI with
// every image volume it mounts translated into CRI image mounts (what the
// kubelet does), and returns what "tool list" sees below listDir.
func (c *cri) readVolumes(t testing.TB, name string, spec corev1.PodSpec, container, toolImage, listDir string) map[string]node {
	t.Helper()
	images := map[string]*corev1.ImageVolumeSource{}
	for _, v := range spec.Volumes {
		if v.Image != nil {
			images[v.Name] = v.Image
		}
	}
	var ctr *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == container {
			ctr = &spec.Containers[i]
		}
	}
	if ctr == nil {
		t.Fatalf("no container %q in %+v", container, spec.Containers)
	}
	var mounts []any
	for _, vm := range ctr.VolumeMounts {
		src, ok := images[vm.Name]
		if !ok {
			continue // emptyDir and friends are not part of this check
		}
		c.must("pull", src.Reference)
		m := map[string]any{"container_path": vm.MountPath, "readonly": true, "image": map[string]any{"image": src.Reference}}
		if vm.SubPath != "" {
			m["image_sub_path"] = vm.SubPath
		}
		mounts = append(mounts, m)
	}
	if len(mounts) == 0 {
		t.Fatalf("container %q mounts no image volume", container)
	}
	podCfg := filepath.Join(c.dir, name+"-pod.json")
	ctrCfg := filepath.Join(c.dir, name+"-ctr.json")
	writeJSON(t, podCfg, map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "default", "uid": "uid-" + name, "attempt": 0},
		"log_directory": filepath.Join(c.dir, "logs", name),
		"linux":         map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}},
	})
	writeJSON(t, ctrCfg, map[string]any{
		"metadata": map[string]any{"name": "reader"},
		"image":    map[string]any{"image": toolImage},
		"command":  []string{"/tool", "list", listDir},
		"log_path": "reader.log",
		"mounts":   mounts,
		"linux":    map[string]any{},
	})
	pod := c.must("runp", podCfg)
	defer func() {
		c.run("stopp", pod)
		c.run("rmp", "-f", pod)
	}()
	id := c.must("create", pod, ctrCfg, podCfg)
	c.must("start", id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		state := c.must("inspect", "-o", "go-template", "--template", "{{.status.state}}", id)
		if state == "CONTAINER_EXITED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader still %s", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	exit := c.must("inspect", "-o", "go-template", "--template", "{{.status.exitCode}}", id)
	logs := c.run("logs", id)
	if exit != "0" {
		t.Fatalf("reader exited %s: %s%s", exit, logs.stdout, logs.stderr)
	}
	return listing(t, logs.stdout)
}

// pushToolImage pushes the helper image (a static binary used as the pause
// sandbox and as the reader container) and returns its reference.
func pushToolImage(t testing.TB, reg *registryServer, work string) string {
	t.Helper()
	toolDir := filepath.Join(work, "toolimg")
	os.MkdirAll(toolDir, 0o755)
	build := exec.Command("go", "build", "-o", filepath.Join(toolDir, "tool"), "./testdata/tool")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	toolRef := runEnv(t, work, nil, "", bin, "build", toolDir, "--git=false", "-t", reg.Host+"/tool:base", "--push")
	if toolRef.code != 0 {
		t.Fatal(toolRef.stderr)
	}
	pause := reg.Host + "/tool:pause"
	base, _ := name.ParseReference(strings.TrimSpace(toolRef.stdout), name.Insecure)
	img, err := remote.Image(base)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/tool", "pause"}})
	if err != nil {
		t.Fatal(err)
	}
	pauseRef, _ := name.ParseReference(pause, name.Insecure)
	if err := remote.Write(pauseRef, img); err != nil {
		t.Fatal(err)
	}
	return pause
}

// TestImageVolumeThroughContainerd is the whole user flow, checked by a
// real runtime: assetpack builds and pushes, writes the Pod (patch --format
// pod) or migrates the old init-container manifest, and containerd's CRI
// mounts the image volumes exactly as those manifests say; a container reads
// the files, which must match the source byte for byte.
func TestImageVolumeThroughContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	pause := pushToolImage(t, reg, work)

	// The content: the source tree at the root, and under /site.
	src := filepath.Join(work, "site")
	makeSource(t, src)
	want := normalised(snapshot(t, src))
	root := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "-t", reg.Host+"/content:root", "--push")
	sub := runEnv(t, work, nil, "", bin, "build", src, "--git=false", "--prefix", "site", "--compression", "zstd", "-t", reg.Host+"/content:site", "--push")
	if root.code != 0 || sub.code != 0 {
		t.Fatalf("pushing content: %s %s", root.stderr, sub.stderr)
	}
	rootRef, subRef := strings.TrimSpace(root.stdout), strings.TrimSpace(sub.stdout)

	// A tree that --layers auto (the default) splits: a large file of its
	// own and groups of small files, each layer repeating the directories
	// it needs. containerd must unpack them into one tree.
	multi := filepath.Join(work, "multi")
	makeSource(t, multi)
	writeSplitTree(t, multi)
	wantMulti := normalised(snapshot(t, multi))
	mr := runEnv(t, work, nil, "", bin, "build", multi, "--git=false", "--prefix", "m", "-t", reg.Host+"/content:multi", "--push", "--json")
	if mr.code != 0 {
		t.Fatalf("pushing the split tree: %s", mr.stderr)
	}
	var mj struct {
		Reference string `json:"reference"`
		Layers    []any  `json:"layers"`
	}
	if err := json.Unmarshal([]byte(mr.stdout), &mj); err != nil || len(mj.Layers) < 3 {
		t.Fatalf("split tree: %d layers (%v), want 3 or more:\n%s", len(mj.Layers), err, mr.stdout)
	}

	// The model example planned with --layers model (a layer per shard)
	// and its ModelPack twin attached: the image volume is still an
	// ordinary image, which containerd pulls and mounts.
	wantModel := copyExampleModel(t, filepath.Join(work, "model"))
	md := runEnv(t, work, nil, "", bin, "build", "model", "--git=false", "--prefix", "model", "--modelpack", "-t", reg.Host+"/content:model", "--push")
	if md.code != 0 {
		t.Fatalf("pushing the model: %s", md.stderr)
	}
	modelRef := strings.TrimSpace(md.stdout)

	// The serving examples (vLLM, llama.cpp, KServe), built and pushed with
	// their assetpack.yaml as their READMEs say, and rendered: the patch
	// the build writes applied to the Deployment, or the InferenceService's
	// predictor with the pushed reference in place.
	serving := servingExamples(t, bin, reg.Host, work)

	c := startContainerd(t, reg.Host, pause)
	c.must("pull", pause)

	for _, ex := range serving {
		t.Run("example-"+ex.name, func(t *testing.T) {
			compareTrees(t, c.readVolumes(t, "example-"+ex.name, ex.spec, ex.container, pause, ex.mountPath), ex.want)
		})
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pod-root", []string{"patch", rootRef, "--format", "pod", "--mount-path", "/data", "--container", "reader"}},
		{"pod-subpath", []string{"patch", subRef, "--format", "pod", "--mount-path", "/data", "--sub-path", "site", "--container", "reader"}},
		{"pod-multi-layer", []string{"patch", mj.Reference, "--format", "pod", "--mount-path", "/data", "--sub-path", "m", "--container", "reader"}},
		{"pod-model", []string{"patch", modelRef, "--format", "pod", "--mount-path", "/data", "--sub-path", "model", "--container", "reader"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := runEnv(t, work, nil, "", bin, tc.args...)
			if p.code != 0 {
				t.Fatalf("patch: %s", p.stderr)
			}
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict([]byte(p.stdout), &pod); err != nil {
				t.Fatal(err)
			}
			w := want
			switch tc.name {
			case "pod-multi-layer":
				w = wantMulti
			case "pod-model":
				w = wantModel
			}
			compareTrees(t, c.readVolumes(t, tc.name, pod.Spec, "reader", pause, "/data"), w)
		})
	}

	// The warm-up DaemonSet's Pod: its pause container (the tool image
	// here: the default pause image is on registry.k8s.io) mounts the
	// model image whole.
	t.Run("warmup", func(t *testing.T) {
		w := runEnv(t, work, nil, "", bin, "warmup", modelRef, "--node-image-fs", "10Gi")
		if w.code != 0 {
			t.Fatalf("warmup: %s", w.stderr)
		}
		var ds appsv1.DaemonSet
		if err := yaml.UnmarshalStrict([]byte(w.stdout), &ds); err != nil {
			t.Fatal(err)
		}
		got := c.readVolumes(t, "warmup", ds.Spec.Template.Spec, "hold", pause, "/image/model")
		compareTrees(t, got, wantModel)
	})

	t.Run("migrated", func(t *testing.T) {
		m := runEnv(t, work, nil, "", bin, "migrate", "-f", filepath.Join(repoRoot(t), "examples/site/k8s/old-init-copy.yaml"), "--image", subRef)
		if m.code != 0 {
			t.Fatalf("migrate: %s", m.stderr)
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(strings.Split(m.stdout, "---\n")[0]), &d); err != nil {
			t.Fatal(err)
		}
		compareTrees(t, c.readVolumes(t, "migrated", d.Spec.Template.Spec, "nginx", pause, "/usr/share/nginx/html"), want)
	})
}

func repoRoot(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func writeJSON(t testing.TB, p string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// servingExample is a serving example's rendered pod spec, the container
// that reads the model, where, and the files it should find there.
type servingExample struct {
	name, container, mountPath string
	spec                       corev1.PodSpec
	want                       map[string]node
}

// servingExamples builds and pushes examples/{vllm,llamacpp,kserve} from a
// copy of examples/ (the builds write their patches into it) and renders
// their workloads as their READMEs do.
func servingExamples(t *testing.T, bin, host, work string) []servingExample {
	t.Helper()
	ex := filepath.Join(work, "examples")
	for _, d := range []string{"vllm", "llamacpp", "kserve"} {
		copyDir(t, filepath.Join(repoRoot(t), "examples", d), filepath.Join(ex, d))
	}
	build := func(dir, repo string) string {
		r := runEnv(t, filepath.Join(ex, dir), nil, "", bin, "build", "--config", "assetpack.yaml", "-t", host+"/"+repo+":v1", "--push")
		if r.code != 0 {
			t.Fatalf("building examples/%s: %s", dir, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	var out []servingExample
	for _, e := range []struct{ dir, repo, container string }{{"vllm", "ml/tiny-llama", "vllm"}, {"llamacpp", "ml/tiny-llama-gguf", "llama-server"}} {
		build(e.dir, e.repo)
		base, err := yaml.YAMLToJSON([]byte(readFile(t, filepath.Join(ex, e.dir, "k8s", "deployment.yaml"))))
		if err != nil {
			t.Fatal(err)
		}
		patch, err := yaml.YAMLToJSON([]byte(readFile(t, filepath.Join(ex, e.dir, "k8s", "model-patch.yaml"))))
		if err != nil {
			t.Fatal(err)
		}
		merged, err := strategicpatch.StrategicMergePatch(base, patch, appsv1.Deployment{})
		if err != nil {
			t.Fatal(err)
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(merged, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, servingExample{e.dir, e.container, "/models/tiny-llama", d.Spec.Template.Spec, normalised(snapshot(t, filepath.Join(ex, e.dir, "model")))})
	}
	ref := build("kserve", "ml/tiny-llama")
	isvc := regexp.MustCompile(`registry\.example\.com/ml/tiny-llama@sha256:[0-9a-f]{64}`).ReplaceAll([]byte(readFile(t, filepath.Join(ex, "kserve", "k8s", "inferenceservice.yaml"))), []byte(ref))
	var obj struct {
		Spec struct {
			Predictor struct {
				corev1.PodSpec `json:",inline"`
				MinReplicas    int `json:"minReplicas"`
			} `json:"predictor"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(isvc, &obj); err != nil {
		t.Fatal(err)
	}
	out = append(out, servingExample{"kserve", "kserve-container", "/models/tiny-llama", obj.Spec.Predictor.PodSpec, normalised(snapshot(t, filepath.Join(ex, "vllm", "model")))})
	return out
}
