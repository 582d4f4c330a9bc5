package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

const (
	ghSubject = "https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main"
	ghIssuer  = "https://token.actions.githubusercontent.com"
	webImages = "registry.example.com/web/*"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenCases cover each format × key/keyless, and the options that change
// the output (action, signature format, logs, regexps).
func goldenCases(t *testing.T) []struct {
	name string
	spec Spec
	// legacy: the signature format defaults to Legacy (with a warning)
	// because the controller cannot check a bundle from this signer.
	legacy bool
} {
	key, logKey := readTestdata(t, "cosign.pub"), readTestdata(t, "log.pub")
	return []struct {
		name   string
		spec   Spec
		legacy bool
	}{
		{"kyverno-key", Spec{Format: Kyverno, Images: []string{webImages}, PublicKey: key}, false},
		{"kyverno-keyless", Spec{Format: Kyverno, Images: []string{webImages, "ghcr.io/acme/*"},
			Keyless: &Keyless{Subject: ghSubject, Issuer: ghIssuer}}, false},
		{"kyverno-key-audit-rekor", Spec{Format: Kyverno, Name: "web-assets-audit", Images: []string{webImages}, PublicKey: key,
			Action: Audit, Tlog: &Tlog{URL: "https://rekor.internal.example.com", PublicKey: logKey}}, true},
		{"kyverno-keyless-regexp-bundle", Spec{Format: Kyverno, Images: []string{"ghcr.io/acme/*"}, Signatures: Bundle,
			Keyless: &Keyless{SubjectRegexp: `^https://github\.com/acme/`, IssuerRegexp: `^https://token\.actions\.githubusercontent\.com$`}}, false},
		{"kyverno-keyless-private-logs", Spec{Format: Kyverno, Images: []string{"registry.internal.example.com/**"},
			Keyless: &Keyless{Subject: "ci@example.com", Issuer: "https://dex.internal.example.com", CTLogPublicKey: logKey},
			Tlog:    &Tlog{URL: "https://rekor.internal.example.com", PublicKey: logKey}}, true},
		{"kyverno-key-legacy", Spec{Format: Kyverno, Images: []string{webImages}, PublicKey: key, Signatures: Legacy}, false},
		{"policy-controller-key", Spec{Format: PolicyController, Images: []string{webImages}, PublicKey: key}, true},
		{"policy-controller-keyless", Spec{Format: PolicyController, Images: []string{webImages, "ghcr.io/acme/**"},
			Keyless: &Keyless{Subject: ghSubject, Issuer: ghIssuer}}, false},
		{"policy-controller-keyless-legacy", Spec{Format: PolicyController, Images: []string{webImages}, Signatures: Legacy,
			Keyless: &Keyless{Subject: ghSubject, Issuer: ghIssuer}}, false},
		{"policy-controller-key-audit-rekor", Spec{Format: PolicyController, Name: "web-assets-audit", Images: []string{webImages},
			PublicKey: key, Action: Audit, Tlog: &Tlog{URL: "https://rekor.internal.example.com"}}, true},
		{"policy-controller-keyless-regexp-bundle", Spec{Format: PolicyController, Images: []string{"ghcr.io/acme/**"}, Signatures: Bundle,
			Keyless: &Keyless{SubjectRegexp: `^https://github\.com/acme/`, Issuer: ghIssuer, IgnoreSCT: true}}, false},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Render(tc.spec)
			if err != nil {
				t.Fatalf("Render() = %v", err)
			}
			golden := filepath.Join("testdata", "golden", tc.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, r.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./policy -update)", err)
			}
			if !bytes.Equal(r.YAML, want) {
				t.Errorf("Render() differs from %s (go test ./policy -update rewrites it):\n%s", golden, r.YAML)
			}
			again, _ := Render(tc.spec)
			if !bytes.Equal(again.YAML, r.YAML) {
				t.Errorf("two renders differ")
			}
			var volumes, legacy int
			for _, w := range r.Warnings {
				switch {
				case strings.Contains(w, "policy-controller#1976"):
					volumes++
				case strings.Contains(w, "accepts legacy signatures") && strings.Contains(w, "legacy or both signature format"):
					legacy++
				default:
					t.Errorf("unexpected warning %q", w)
				}
			}
			if wantVolumes := tc.spec.Format == PolicyController; (volumes == 1) != wantVolumes || volumes > 1 {
				t.Errorf("warnings %q: want the image-volume warning: %v", r.Warnings, wantVolumes)
			}
			if (legacy == 1) != tc.legacy || legacy > 1 {
				t.Errorf("warnings %q: want the legacy-default warning: %v", r.Warnings, tc.legacy)
			}
			// The default is what the YAML says: a bundle type or
			// signatureFormat exactly when the format is (or defaults to)
			// Bundle.
			bundle := bytes.Contains(r.YAML, []byte("type: SigstoreBundle")) || bytes.Contains(r.YAML, []byte("signatureFormat: bundle"))
			if wantBundle := tc.spec.Signatures == Bundle || (tc.spec.Signatures == "" && !tc.legacy); bundle != wantBundle {
				t.Errorf("policy checks bundles: %v, want %v:\n%s", bundle, wantBundle, r.YAML)
			}
		})
	}
}

// TestSchemas validates every golden policy against the CRD schema the
// controller's release publishes (testdata/crds).
func TestSchemas(t *testing.T) {
	kyverno := crdSchema(t, "kyverno.io_clusterpolicies.yaml.gz", "v1")
	cip := crdSchema(t, "300-clusterimagepolicy.yaml", "v1beta1")
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Render(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			s := kyverno
			if tc.spec.Format == PolicyController {
				s = cip
			}
			if err := s.validate(r.YAML); err != nil {
				t.Errorf("the policy does not validate against the CRD schema: %v\n%s", err, r.YAML)
			}
		})
	}
	// The check can fail: a misspelt field, a wrong type and an unknown
	// enum value are caught.
	for _, bad := range []string{
		"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    imageExtractor: {}\n",
		"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages: [{mutateDigest: 'yes'}]\n",
		"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages: [{type: Cosgin}]\n",
	} {
		if err := kyverno.validate([]byte(bad)); err == nil {
			t.Errorf("the Kyverno schema accepted:\n%s", bad)
		}
	}
	if err := cip.validate([]byte("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec:\n  images: [{glob: a}]\n  authorities: [{name: a, key: {pem: x}}]\n")); err == nil {
		t.Errorf("the ClusterImagePolicy schema accepted an unknown field")
	}
}

// TestKyvernoExtractorsFindEveryVolume reads the rendered rule the way
// Kyverno does (pkg/utils/api/image.go: a slash-separated path, '*'
// expanding arrays and objects, then the 'value' field) over a Pod and an
// object of every pod-template kind, each with two image volumes, an
// emptyDir volume and a container: exactly the two volume references are
// extracted, for every kind the rule matches.
func TestKyvernoExtractorsFindEveryVolume(t *testing.T) {
	r, err := Render(Spec{Format: Kyverno, Images: []string{webImages}, PublicKey: readTestdata(t, "cosign.pub")})
	if err != nil {
		t.Fatal(err)
	}
	var p kyvernoPolicy
	if err := yaml.UnmarshalStrict(r.YAML, &p); err != nil {
		t.Fatal(err)
	}
	if got := p.Metadata.Annotations["pod-policies.kyverno.io/autogen-controllers"]; got != "none" {
		t.Errorf("autogen-controllers = %q: autogen would copy the rule to pod controllers without its imageExtractors", got)
	}
	rule := p.Spec.Rules[0]
	matched := rule.Match.Any[0].Resources.Kinds
	var extracted []string
	for k := range rule.ImageExtractors {
		extracted = append(extracted, k)
	}
	sort.Strings(extracted)
	sortedMatched := append([]string(nil), matched...)
	sort.Strings(sortedMatched)
	if !reflect.DeepEqual(sortedMatched, extracted) {
		t.Errorf("matched kinds %v, extractors for %v: a matched kind without extractors falls back to Kyverno's container extractors", sortedMatched, extracted)
	}

	const ref1, ref2 = "registry.example.com/web/site@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047", "registry.example.com/web/model:v3"
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "nginx", Image: "registry.example.com/web/nginx:1.29"}},
		Volumes: []corev1.Volume{
			{Name: "site", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: ref1}}},
			{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "model", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: ref2, PullPolicy: corev1.PullAlways}}},
		},
	}
	tpl := corev1.PodTemplateSpec{Spec: spec}
	objects := map[string]any{
		"Pod":                   corev1.Pod{Spec: spec},
		"Deployment":            appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tpl}},
		"StatefulSet":           appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tpl}},
		"DaemonSet":             appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tpl}},
		"ReplicaSet":            appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tpl}},
		"ReplicationController": corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tpl}},
		"Job":                   batchv1.Job{Spec: batchv1.JobSpec{Template: tpl}},
		"CronJob":               batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}}},
	}
	if len(objects) != len(workloads) {
		t.Fatalf("%d sample objects for %d workloads", len(objects), len(workloads))
	}
	for _, kind := range matched {
		t.Run(kind, func(t *testing.T) {
			obj, ok := objects[kind]
			if !ok {
				t.Fatalf("no sample %s", kind)
			}
			j, _ := json.Marshal(obj)
			var m map[string]any
			json.Unmarshal(j, &m)
			m["kind"] = kind
			var got []string
			for _, e := range rule.ImageExtractors[kind] {
				got = append(got, kyvernoExtract(m, e)...)
			}
			if want := []string{ref1, ref2}; !reflect.DeepEqual(got, want) {
				t.Errorf("extracted %q, want %q", got, want)
			}
		})
	}
}

// kyvernoExtract restates Kyverno's extraction for one extractor: the
// path's segments with '*' over arrays, then the value field as a string.
func kyvernoExtract(obj any, e imageExtractor) []string {
	fields := strings.FieldsFunc(e.Path, func(r rune) bool { return r == '/' })
	value := e.Value
	if value == "" {
		value, fields = fields[len(fields)-1], fields[:len(fields)-1]
	}
	var out []string
	var walk func(o any, fields []string)
	walk = func(o any, fields []string) {
		if len(fields) > 0 && fields[0] == "*" {
			if list, ok := o.([]any); ok {
				for _, v := range list {
					walk(v, fields[1:])
				}
			}
			return
		}
		m, ok := o.(map[string]any)
		if !ok {
			return
		}
		if len(fields) == 0 {
			if s, ok := m[value].(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
			return
		}
		walk(m[fields[0]], fields[1:])
	}
	walk(obj, fields)
	return out
}

// TestKyvernoActions: Enforce pins digests and fails closed; Audit may not
// mutate (Kyverno refuses mutateDigest with Audit) and fails open.
func TestKyvernoActions(t *testing.T) {
	for _, a := range []Action{Enforce, Audit} {
		r, err := Render(Spec{Format: Kyverno, Images: []string{webImages}, PublicKey: readTestdata(t, "cosign.pub"), Action: a})
		if err != nil {
			t.Fatal(err)
		}
		var p kyvernoPolicy
		yaml.Unmarshal(r.YAML, &p)
		v := p.Spec.Rules[0].VerifyImages[0]
		wantFP := map[Action]string{Enforce: "Fail", Audit: "Ignore"}[a]
		if v.FailureAction != a || p.Spec.ValidationFailureAction != a || v.MutateDigest != (a == Enforce) ||
			!v.VerifyDigest || !v.Required || p.Spec.WebhookConfiguration.FailurePolicy != wantFP {
			t.Errorf("%s: verifyImages %+v, spec %+v", a, v, p.Spec)
		}
		if a == Audit && !bytes.Contains(r.YAML, []byte("mutateDigest: false")) {
			t.Errorf("Audit must say mutateDigest: false (the CRD defaults it to true)")
		}
	}
}

func TestRenderErrors(t *testing.T) {
	key := readTestdata(t, "cosign.pub")
	keyless := &Keyless{Subject: ghSubject, Issuer: ghIssuer}
	img := []string{webImages}
	priv := []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	cert := []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	garbage := []byte("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n")
	for _, tc := range []struct {
		name  string
		spec  Spec
		field string
		msg   string
	}{
		{"no format", Spec{Images: img, PublicKey: key}, "Format", "policy format: none given"},
		{"unknown format", Spec{Format: "gatekeeper", Images: img, PublicKey: key}, "Format", `policy format "gatekeeper": use kyverno or policy-controller`},
		{"no images", Spec{Format: Kyverno, PublicKey: key}, "Images", "image pattern: none given"},
		{"empty image", Spec{Format: Kyverno, Images: []string{""}, PublicKey: key}, "Images", "image pattern: empty"},
		{"space in image", Spec{Format: Kyverno, Images: []string{"registry.example.com/web /*"}, PublicKey: key}, "Images", "whitespace"},
		{"glob character", Spec{Format: PolicyController, Images: []string{"registry.example.com/web/site-?"}, PublicKey: key}, "Images", "no ? or [ ]"},
		{"docker hub glob", Spec{Format: PolicyController, Images: []string{"*"}, PublicKey: key}, "Images", "Docker Hub"},
		{"both", Spec{Format: Kyverno, Images: img, PublicKey: key, Keyless: keyless}, "PublicKey", "public key: given with a keyless identity"},
		{"neither", Spec{Format: Kyverno, Images: img}, "PublicKey", "public key: none, and no keyless identity"},
		{"not PEM", Spec{Format: Kyverno, Images: img, PublicKey: []byte("ssh-ed25519 AAAA")}, "PublicKey", "public key: not PEM"},
		{"private key", Spec{Format: Kyverno, Images: img, PublicKey: priv}, "PublicKey", "public key: a private key"},
		{"certificate", Spec{Format: PolicyController, Images: img, PublicKey: cert}, "PublicKey", "certificate"},
		{"bad key bytes", Spec{Format: Kyverno, Images: img, PublicKey: garbage}, "PublicKey", "does not parse"},
		{"two keys", Spec{Format: Kyverno, Images: img, PublicKey: append(append([]byte{}, key...), key...)}, "PublicKey", "more than one"},
		{"bad name", Spec{Format: Kyverno, Name: "Web_Assets", Images: img, PublicKey: key}, "Name", "DNS label"},
		{"bad action", Spec{Format: Kyverno, Action: "Warn", Images: img, PublicKey: key}, "Action", "Enforce or Audit"},
		{"bad signature format", Spec{Format: Kyverno, Signatures: "notary", Images: img, PublicKey: key}, "Signatures", "legacy"},
		{"no subject", Spec{Format: Kyverno, Images: img, Keyless: &Keyless{Issuer: ghIssuer}}, "Keyless.Subject", "certificate identity: missing"},
		{"no issuer", Spec{Format: Kyverno, Images: img, Keyless: &Keyless{Subject: ghSubject}}, "Keyless.Issuer", "OIDC issuer: missing"},
		{"subject twice", Spec{Format: Kyverno, Images: img, Keyless: &Keyless{Subject: ghSubject, SubjectRegexp: ".*", Issuer: ghIssuer}}, "Keyless.Subject", "not both"},
		{"bad regexp", Spec{Format: Kyverno, Images: img, Keyless: &Keyless{SubjectRegexp: "(", Issuer: ghIssuer}}, "Keyless.SubjectRegexp", "not a regular expression"},
		{"bad rekor URL", Spec{Format: Kyverno, Images: img, PublicKey: key, Tlog: &Tlog{URL: "rekor.example.com"}}, "Tlog.URL", "http(s) URL"},
		{"bad rekor key", Spec{Format: Kyverno, Images: img, PublicKey: key, Tlog: &Tlog{URL: "https://rekor.example.com", PublicKey: []byte("x")}}, "Tlog.PublicKey", "Rekor public key: not PEM"},
		{"kyverno bundle private log", Spec{Format: Kyverno, Signatures: Bundle, Images: img, Keyless: keyless, Tlog: &Tlog{URL: "https://rekor.example.com"}}, "Tlog.URL", "public Sigstore trust root"},
		{"kyverno bundle private CT log", Spec{Format: Kyverno, Signatures: Bundle, Images: img, Keyless: &Keyless{Subject: ghSubject, Issuer: ghIssuer, CTLogPublicKey: key}}, "Keyless.CTLogPublicKey", "public Sigstore trust root"},
		{"controller key bundle", Spec{Format: PolicyController, Signatures: Bundle, Images: img, PublicKey: key}, "Signatures", "only for keyless"},
		{"controller bundle private log", Spec{Format: PolicyController, Signatures: Bundle, Images: img, Keyless: keyless, Tlog: &Tlog{URL: "https://rekor.example.com"}}, "Tlog.URL", "public Sigstore trust root"},
		{"controller private log key", Spec{Format: PolicyController, Images: img, Keyless: keyless, Tlog: &Tlog{URL: "https://rekor.example.com", PublicKey: key}}, "Tlog.PublicKey", "TrustRoot"},
		{"controller private CT log", Spec{Format: PolicyController, Images: img, Keyless: &Keyless{Subject: ghSubject, Issuer: ghIssuer, CTLogPublicKey: key}}, "Keyless.CTLogPublicKey", "TrustRoot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Render(tc.spec)
			if err == nil {
				t.Fatalf("Render() = %s, want an error", r.YAML)
			}
			var pe *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &pe) {
				t.Fatalf("Render() = %v (%T), want a *Error matching ErrInvalid", err, err)
			}
			if pe.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Render() = %v (field %s), want field %s and %q", err, pe.Field, tc.field, tc.msg)
			}
			for _, flag := range []string{"--image", "--key", "--certificate-", "--rekor-", "--ctlog-", "--format", "--action", "--signature-format", "--name"} {
				if strings.Contains(err.Error(), flag) {
					t.Errorf("a library error names the flag %s: %v", flag, err)
				}
			}
		})
	}
}

// TestKeyNormalised: comments around the PEM block are dropped; the key
// itself is unchanged.
func TestKeyNormalised(t *testing.T) {
	key := readTestdata(t, "cosign.pub")
	noisy := append([]byte("# cosign public key of the release pipeline\n\n"), append(bytes.TrimSpace(key), "\n\n"...)...)
	a, err := Render(Spec{Format: PolicyController, Images: []string{webImages}, PublicKey: noisy})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Render(Spec{Format: PolicyController, Images: []string{webImages}, PublicKey: key})
	if !bytes.Equal(a.YAML, b.YAML) || bytes.Contains(a.YAML, []byte("release pipeline")) {
		t.Errorf("a commented key renders differently:\n%s", a.YAML)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Format{"kyverno": Kyverno, "Kyverno": Kyverno, "policy-controller": PolicyController, "sigstore": PolicyController} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]Action{"Enforce": Enforce, "enforce": Enforce, "AUDIT": Audit} {
		if got, err := ParseAction(in); err != nil || got != want {
			t.Errorf("ParseAction(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]SignatureFormat{"legacy": Legacy, "Bundle": Bundle} {
		if got, err := ParseSignatureFormat(in); err != nil || got != want {
			t.Errorf("ParseSignatureFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSignatureFormat("sigstore"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseSignatureFormat(sigstore) = %v", err)
	}
}
