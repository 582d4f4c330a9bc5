package kubevalidate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/assetpack/assetpack/internal/testproc"
	"github.com/assetpack/assetpack/kube"
)

// The real API server: kube-apiserver v1.36.3 and etcd, built and cached
// by hack/install-kube-tools.sh, which make kube-validate runs and which
// exports ASSETPACK_KUBE_TOOLS (the directory of both binaries). Both
// listen on 127.0.0.1 only and are stopped by PID when the tests end.
//
// Run by hand: eval "$(hack/install-kube-tools.sh --print-path)" first.
// Without the variable these tests skip, unless ASSETPACK_REQUIRE_APISERVER
// is set (make kube-validate sets it), in which case they fail.

var (
	apiOnce   sync.Once
	apiConfig *rest.Config
	apiErr    error
	apiStop   []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(apiStop) - 1; i >= 0; i-- {
		apiStop[i]()
	}
	os.Exit(code)
}

// apiServer returns a client config for the running API server, starting
// etcd and kube-apiserver on first use.
func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	tools := os.Getenv("ASSETPACK_KUBE_TOOLS")
	if tools == "" {
		if os.Getenv("ASSETPACK_REQUIRE_APISERVER") != "" {
			t.Fatal("ASSETPACK_KUBE_TOOLS is not set: run make kube-validate, or eval \"$(hack/install-kube-tools.sh --print-path)\"")
		}
		t.Skip("no kube-apiserver: ASSETPACK_KUBE_TOOLS is not set (make kube-validate sets it)")
	}
	apiOnce.Do(func() { apiConfig, apiErr = startAPIServer(tools) })
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return apiConfig
}

// start runs a binary with its output in DIR/NAME.log, and registers its
// stop for TestMain.
func start(dir, name string, args ...string) (*testproc.Proc, error) {
	p, err := testproc.Start(filepath.Join(dir, filepath.Base(name)+".log"), name, args...)
	if err != nil {
		return nil, err
	}
	apiStop = append(apiStop, p.Stop)
	return p, nil
}

func startAPIServer(tools string) (*rest.Config, error) {
	dir, err := os.MkdirTemp("", "assetpack-apiserver-")
	if err != nil {
		return nil, err
	}
	apiStop = append(apiStop, func() { os.RemoveAll(dir) })
	etcdPort, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcdLog, err := start(dir, filepath.Join(tools, "etcd"), "--name", "kubevalidate", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "kubevalidate="+peerURL, "--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}

	// The service-account token signer the API server insists on, and a
	// static token for the test's client (cluster-admin by its group).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalECPrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	saKey, saPub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
	const token = "kubevalidate-admin-token"
	tokens := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokens, []byte(token+",kubevalidate-admin,1000,system:masters\n"), 0o600)

	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	apiLog, err := start(dir, filepath.Join(tools, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey, "--service-cluster-ip-range", "10.96.0.0/24",
		// No controller-manager creates namespaces' default service
		// accounts here; the admission plugin would refuse every Pod.
		"--disable-admission-plugins", "ServiceAccount")
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver: %w", err)
	}

	cfg := &rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", port), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 100, Burst: 200}
	// /readyz covers etcd and the post-start hooks (the default namespace,
	// the built-in RBAC roles).
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, cfg.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cfg, nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil, fmt.Errorf("kube-apiserver not ready in 3 minutes (%s)\nkube-apiserver log:\n%s\netcd log:\n%s", last, apiLog.Tail(3000), etcdLog.Tail(3000))
}

// client is a dynamic client with a REST mapper that sees the server's
// current resources (CRDs included).
type client struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func newClient(t *testing.T) *client {
	cfg := apiServer(t)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &client{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

func (c *client) resource(t *testing.T, u *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s: %v", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		return c.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	return c.dyn.Resource(m.Resource)
}

// dryRun sends obj as kubectl apply --dry-run=server
// --validate=strict does for a new object: a create with dryRun=All and
// fieldValidation=Strict, so an unknown or duplicate field is an error
// and not silently dropped. It returns the object the server would store.
func (c *client) dryRun(t *testing.T, obj []byte) (*unstructured.Unstructured, error) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(obj, &u.Object); err != nil {
		t.Fatalf("decoding: %v\n%s", err, obj)
	}
	return c.resource(t, u).Create(context.Background(), u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
}

// create really creates obj (namespaces, CRDs).
func (c *client) create(t *testing.T, obj []byte) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(obj, &u.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := c.resource(t, u).Create(context.Background(), u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func mustAccept(t *testing.T, c *client, what string, obj []byte) *unstructured.Unstructured {
	t.Helper()
	got, err := c.dryRun(t, obj)
	if err != nil {
		t.Fatalf("kube-apiserver 1.36 refuses %s: %v\n%s", what, err, obj)
	}
	return got
}

// imageVolumes returns the image volumes of a stored object's pod spec at
// path (e.g. spec.template.spec), as the server defaulted them.
func imageVolumes(t *testing.T, u *unstructured.Unstructured, path ...string) []map[string]any {
	t.Helper()
	vols, _, err := unstructured.NestedSlice(u.Object, append(path, "volumes")...)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, v := range vols {
		if img, ok := v.(map[string]any)["image"].(map[string]any); ok {
			out = append(out, img)
		}
	}
	return out
}

// TestAPIServerWarmupDaemonSet: the warm-up DaemonSet with every option,
// in its own namespace; the server keeps its image volume (with the
// ImageVolume gate off it would drop it silently).
func TestAPIServerWarmupDaemonSet(t *testing.T) {
	c := newClient(t)
	c.create(t, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: models\n"))
	var tols []corev1.Toleration
	for _, s := range []string{"nvidia.com/gpu:NoSchedule", "dedicated=ml:NoExecute", "*"} {
		tol, err := kube.ParseToleration(s)
		if err != nil {
			t.Fatal(err)
		}
		tols = append(tols, tol)
	}
	data, err := kube.WarmupDaemonSet(kube.Warmup{Reference: ref, Namespace: "models",
		NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"}, Tolerations: tols,
		PullSecrets: []string{"regcred"}, PriorityClassName: "system-node-critical",
		Size: &kube.ImageSize{Compressed: 20 << 30, Uncompressed: 20 << 30, Layers: 22}, NodeImageFS: 200 << 30})
	if err != nil {
		t.Fatal(err)
	}
	got := mustAccept(t, c, "the warm-up DaemonSet", data)
	if v := imageVolumes(t, got, "spec", "template", "spec"); len(v) != 1 || v[0]["reference"] != ref {
		t.Errorf("stored image volumes %v, want one with %s", v, ref)
	}
}

// TestAPIServerPod: patch --format pod's Pod with a subPath; the server
// defaults the digest reference's pull policy to IfNotPresent.
func TestAPIServerPod(t *testing.T) {
	c := newClient(t)
	data, err := kube.PodFor(kube.Mount{Reference: ref, MountPath: "/models/tiny-llama", SubPath: "tiny-llama"}, kube.PodOptions{PullSecrets: []string{"regcred"}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustAccept(t, c, "the Pod", data)
	if v := imageVolumes(t, got, "spec"); len(v) != 1 || v[0]["reference"] != ref || v[0]["pullPolicy"] != "IfNotPresent" {
		t.Errorf("stored image volumes %v, want %s with pullPolicy IfNotPresent", v, ref)
	}
}

// TestAPIServerServingExamples: examples/vllm's and examples/llamacpp's
// Deployments with their model-patch.yaml applied (as kubectl patch
// --local does), and examples/kserve's InferenceService as written, after
// KServe v0.20.0's published CRD is installed.
func TestAPIServerServingExamples(t *testing.T) {
	c := newClient(t)
	examples := filepath.Join("..", "..", "examples")
	for _, dir := range []string{"vllm", "llamacpp"} {
		t.Run(dir, func(t *testing.T) {
			base := read(t, filepath.Join(examples, dir, "k8s", "deployment.yaml"))
			patch := read(t, filepath.Join(examples, dir, "k8s", "model-patch.yaml"))
			merged, err := strategicpatch.StrategicMergePatch(base, patch, appsv1.Deployment{})
			if err != nil {
				t.Fatal(err)
			}
			got := mustAccept(t, c, dir+"'s Deployment", merged)
			if v := imageVolumes(t, got, "spec", "template", "spec"); len(v) != 1 {
				t.Errorf("stored image volumes %v, want one", v)
			}
		})
	}
	t.Run("kserve", func(t *testing.T) {
		installKServeCRD(t, c)
		isvc := read(t, filepath.Join(examples, "kserve", "k8s", "inferenceservice.yaml"))
		got := mustAccept(t, c, "examples/kserve's InferenceService", isvc)
		if v := imageVolumes(t, got, "spec", "predictor"); len(v) != 1 || !strings.HasPrefix(fmt.Sprint(v[0]["reference"]), "registry.example.com/ml/tiny-llama@sha256:") {
			t.Errorf("stored predictor image volumes %v (pruned by the CRD schema?)", v)
		}
	})
}

// installKServeCRD creates KServe v0.20.0's published InferenceService
// CRD (testdata) and waits until the server serves the kind.
func installKServeCRD(t *testing.T, c *client) {
	t.Helper()
	c.create(t, readGzip(t, filepath.Join("testdata", "kserve-v0.20.0-inferenceservices.yaml.gz")))
	waitServed(t, c, "inferenceservices.serving.kserve.io", schema.GroupKind{Group: "serving.kserve.io", Kind: "InferenceService"}, "v1beta1")
}

// waitServed waits until the CRD name is established and discovery serves
// its kind gk at version.
func waitServed(t *testing.T, c *client, name string, gk schema.GroupKind, version string) {
	t.Helper()
	crds := c.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		u, err := crds.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && established(u) {
			// The mapper learns the kind once discovery serves it.
			c.mapper.(meta.ResettableRESTMapper).Reset()
			if _, err := c.mapper.RESTMapping(gk, version); err == nil {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the CRD %s is not served after a minute", name)
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// TestAPIServerPolicies: every admission policy of policy's golden files
// (assetpack policy's output for each format, key and keyless, Audit,
// bundle and legacy, private logs) is accepted by the API server under
// the controllers' published CRDs (policy/testdata/crds: Kyverno v1.19.1,
// policy-controller v0.15.1) with strict field validation, and a field the
// CRD does not know is refused. The policy-controller's CRD converts
// between its versions with a webhook in the controller, which does not
// run here: it is installed with conversion strategy None, so the server
// validates the v1beta1 object against the v1beta1 schema and stores it
// as is (only the dry-run's result is read).
func TestAPIServerPolicies(t *testing.T) {
	c := newClient(t)
	crds := filepath.Join("..", "..", "policy", "testdata", "crds")
	c.create(t, readGzip(t, filepath.Join(crds, "kyverno.io_clusterpolicies.yaml.gz")))
	cip, err := os.ReadFile(filepath.Join(crds, "300-clusterimagepolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(cip, &crd); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedMap(crd, map[string]any{"strategy": "None"}, "spec", "conversion"); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(crd)
	c.create(t, b)
	waitServed(t, c, "clusterpolicies.kyverno.io", schema.GroupKind{Group: "kyverno.io", Kind: "ClusterPolicy"}, "v1")
	waitServed(t, c, "clusterimagepolicies.policy.sigstore.dev", schema.GroupKind{Group: "policy.sigstore.dev", Kind: "ClusterImagePolicy"}, "v1beta1")

	goldens, _ := filepath.Glob(filepath.Join("..", "..", "policy", "testdata", "golden", "*.yaml"))
	if len(goldens) < 10 {
		t.Fatalf("golden policies: %v", goldens)
	}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			obj := read(t, g)
			got := mustAccept(t, c, filepath.Base(g), obj)
			// Nothing pruned or changed: everything sent is stored (the
			// CRD's defaults come on top).
			var sent map[string]any
			json.Unmarshal(obj, &sent)
			if path, ok := contains(got.Object["spec"], sent["spec"], "spec"); !ok {
				t.Errorf("the server pruned or changed %s:\nsent   %v\nstored %v", path, sent["spec"], got.Object["spec"])
			}
			// A field the CRD does not know is refused.
			var bad map[string]any
			json.Unmarshal(obj, &bad)
			unstructured.SetNestedField(bad, "x", "spec", "assetpackUnknownField")
			b, _ := json.Marshal(bad)
			if _, err := c.dryRun(t, b); err == nil || !strings.Contains(err.Error(), `unknown field "spec.assetpackUnknownField"`) {
				t.Errorf("dry-run with an unknown field = %v", err)
			}
		})
	}
}

// contains reports whether stored holds every field of sent with the same
// value (lists element by element), and else the path where they part.
func contains(stored, sent any, path string) (string, bool) {
	switch v := sent.(type) {
	case map[string]any:
		m, ok := stored.(map[string]any)
		if !ok {
			return path, false
		}
		for k, sv := range v {
			if p, ok := contains(m[k], sv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		l, ok := stored.([]any)
		if !ok || len(l) != len(v) {
			return path, false
		}
		for i := range v {
			if p, ok := contains(l[i], v[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	return path, fmt.Sprint(stored) == fmt.Sprint(sent)
}

// TestAPIServerRefuses: the dry-run bites. What FACTS and the API's
// validation say a 1.36 server refuses is refused, each with the field in
// the server's message, and an unknown field in the InferenceService is an
// error under strict field validation.
func TestAPIServerRefuses(t *testing.T) {
	c := newClient(t)
	data, err := kube.PodFor(kube.Mount{Reference: ref, MountPath: "/m"}, kube.PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		spoil func(*corev1.Pod)
		want  string // in the server's message
	}{
		"two sources":  {func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{} }, "may not specify more than 1 volume type"},
		"dotdot":       {func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "../x" }, "must not contain '..'"},
		"no reference": {func(p *corev1.Pod) { p.Spec.Volumes[0].Image.Reference = "" }, "spec.volumes[0].image.reference"},
		"bad policy":   {func(p *corev1.Pod) { p.Spec.Volumes[0].Image.PullPolicy = "Sometimes" }, "spec.volumes[0].image.pullPolicy"},
	} {
		t.Run(name, func(t *testing.T) {
			var p corev1.Pod
			decode(t, "the Pod", data, &p)
			tc.spoil(&p)
			b, _ := yaml.Marshal(&p)
			_, err := c.dryRun(t, b)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("dry-run of the Pod with %s = %v, want Invalid saying %q", name, err, tc.want)
			}
		})
	}
	t.Run("DaemonSet selecting none of its Pods", func(t *testing.T) {
		data, err := kube.WarmupDaemonSet(kube.Warmup{Reference: ref})
		if err != nil {
			t.Fatal(err)
		}
		var ds appsv1.DaemonSet
		decode(t, "the warm-up DaemonSet", data, &ds)
		ds.Spec.Template.Labels = map[string]string{"other": "pods"}
		b, _ := yaml.Marshal(&ds)
		if _, err := c.dryRun(t, b); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "`selector` does not match template `labels`") {
			t.Errorf("dry-run = %v, want Invalid: selector does not match template labels", err)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		var isvc map[string]any
		if err := json.Unmarshal(read(t, filepath.Join("..", "..", "examples", "kserve", "k8s", "inferenceservice.yaml")), &isvc); err != nil {
			t.Fatal(err)
		}
		vols, _, _ := unstructured.NestedSlice(isvc, "spec", "predictor", "volumes")
		if len(vols) != 1 {
			t.Fatalf("the InferenceService's volumes moved (%v): update this test", vols)
		}
		vols[0].(map[string]any)["image"].(map[string]any)["digest"] = "x"
		unstructured.SetNestedSlice(isvc, vols, "spec", "predictor", "volumes")
		bad, _ := json.Marshal(isvc)
		installKServeCRD(t, c)
		_, err := c.dryRun(t, bad)
		if err == nil || !strings.Contains(err.Error(), `unknown field "spec.predictor.volumes[0].image.digest"`) {
			t.Errorf("dry-run with an unknown field = %v", err)
		}
	})
}
