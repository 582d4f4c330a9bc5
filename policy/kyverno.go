package policy

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// workload is a kind whose objects carry a pod spec, and where: PodSpec is
// the slash-separated path from the object to it.
type workload struct{ Kind, PodSpec string }

// workloads are the kinds the Kyverno policy matches: Pods and every
// built-in kind with a pod template (the kinds Kyverno's own container
// extractors know).
var workloads = []workload{
	{"Pod", "/spec"},
	{"Deployment", "/spec/template/spec"},
	{"StatefulSet", "/spec/template/spec"},
	{"DaemonSet", "/spec/template/spec"},
	{"ReplicaSet", "/spec/template/spec"},
	{"ReplicationController", "/spec/template/spec"},
	{"Job", "/spec/template/spec"},
	{"CronJob", "/spec/jobTemplate/spec/template/spec"},
}

// The ClusterPolicy, as far as this package writes it (kyverno.io/v1,
// api/kyverno/v1 in github.com/kyverno/kyverno). Field order does not
// matter: sigs.k8s.io/yaml sorts keys.
type (
	kyvernoPolicy struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   meta        `json:"metadata"`
		Spec       kyvernoSpec `json:"spec"`
	}
	meta struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	kyvernoSpec struct {
		// Deprecated in Kyverno ≥ 1.13 in favour of the verifyImages
		// entry's failureAction, which wins; kept, with the same value, for
		// readers of the policy and older Kyverno versions.
		ValidationFailureAction Action         `json:"validationFailureAction"`
		WebhookConfiguration    kyvernoWebhook `json:"webhookConfiguration"`
		Rules                   []kyvernoRule  `json:"rules"`
	}
	kyvernoWebhook struct {
		FailurePolicy  string `json:"failurePolicy"`
		TimeoutSeconds int    `json:"timeoutSeconds"`
	}
	kyvernoRule struct {
		Name            string                      `json:"name"`
		Match           kyvernoMatch                `json:"match"`
		ImageExtractors map[string][]imageExtractor `json:"imageExtractors"`
		VerifyImages    []verifyImage               `json:"verifyImages"`
	}
	kyvernoMatch struct {
		Any []resourceFilter `json:"any"`
	}
	resourceFilter struct {
		Resources struct {
			Kinds []string `json:"kinds"`
		} `json:"resources"`
	}
	imageExtractor struct {
		Name  string `json:"name"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}
	verifyImage struct {
		Type            string        `json:"type"`
		ImageReferences []string      `json:"imageReferences"`
		FailureAction   Action        `json:"failureAction"`
		MutateDigest    bool          `json:"mutateDigest"` // no omitempty: the CRD defaults it to true
		VerifyDigest    bool          `json:"verifyDigest"`
		Required        bool          `json:"required"`
		Attestors       []attestorSet `json:"attestors"`
	}
	attestorSet struct {
		Count   int        `json:"count"`
		Entries []attestor `json:"entries"`
	}
	attestor struct {
		Keys    *staticKey       `json:"keys,omitempty"`
		Keyless *keylessAttestor `json:"keyless,omitempty"`
	}
	staticKey struct {
		PublicKeys string `json:"publicKeys"`
		Rekor      *rekor `json:"rekor,omitempty"`
		CTLog      *ctlog `json:"ctlog,omitempty"`
	}
	keylessAttestor struct {
		Subject       string `json:"subject,omitempty"`
		SubjectRegExp string `json:"subjectRegExp,omitempty"`
		Issuer        string `json:"issuer,omitempty"`
		IssuerRegExp  string `json:"issuerRegExp,omitempty"`
		Rekor         *rekor `json:"rekor,omitempty"`
		CTLog         *ctlog `json:"ctlog,omitempty"`
	}
	rekor struct {
		URL        string `json:"url,omitempty"`
		PubKey     string `json:"pubkey,omitempty"`
		IgnoreTlog bool   `json:"ignoreTlog,omitempty"`
	}
	ctlog struct {
		IgnoreSCT bool   `json:"ignoreSCT,omitempty"`
		PubKey    string `json:"pubkey,omitempty"`
	}
)

// Kyverno's names for the signature formats (verifyImages[].type).
var kyvernoType = map[SignatureFormat]string{Legacy: "Cosign", Bundle: "SigstoreBundle"}

// volumeExtractor is the name the volume references get in Kyverno's
// image context (images.<name>).
const volumeExtractor = "imageVolumes"

// renderKyverno writes one ClusterPolicy with one rule. Its imageExtractors
// replace Kyverno's container extractors for every kind it matches (Kyverno
// uses a rule's extractors instead of its built-in ones for the kinds they
// name), so the rule checks image volumes and nothing else. Autogen is off:
// Kyverno's autogen copies match and verifyImages to the pod controllers
// but not imageExtractors, so a generated rule would check containers
// instead; the rule names every kind itself.
func renderKyverno(s Spec) (*Rendered, error) {
	rule := kyvernoRule{
		Name:            "verify-image-volumes",
		ImageExtractors: map[string][]imageExtractor{},
		VerifyImages: []verifyImage{{
			Type:            kyvernoType[s.Signatures],
			ImageReferences: s.Images,
			FailureAction:   s.Action,
			// Kyverno refuses mutateDigest with Audit; Enforce pins the
			// verified digest in place of a tag, so the kubelet pulls
			// exactly what was verified.
			MutateDigest: s.Action == Enforce,
			VerifyDigest: true,
			Required:     true,
			Attestors:    []attestorSet{{Count: 1, Entries: []attestor{kyvernoAttestor(s)}}},
		}},
	}
	var f resourceFilter
	for _, w := range workloads {
		f.Resources.Kinds = append(f.Resources.Kinds, w.Kind)
		rule.ImageExtractors[w.Kind] = []imageExtractor{{Name: volumeExtractor, Path: w.PodSpec + "/volumes/*/image", Value: "reference"}}
	}
	rule.Match.Any = []resourceFilter{f}
	failurePolicy := "Fail"
	if s.Action == Audit {
		failurePolicy = "Ignore"
	}
	p := kyvernoPolicy{
		APIVersion: "kyverno.io/v1",
		Kind:       "ClusterPolicy",
		Metadata: meta{Name: s.Name, Annotations: map[string]string{
			"pod-policies.kyverno.io/autogen-controllers": "none",
			"policies.kyverno.io/title":                   "Signed image volumes",
			"policies.kyverno.io/category":                "Software Supply Chain Security",
			"policies.kyverno.io/subject":                 strings.Join(kinds(), ", "),
			"policies.kyverno.io/description":             description(s),
		}},
		Spec: kyvernoSpec{
			ValidationFailureAction: s.Action,
			// Verification fetches signatures from the registry: allow the
			// longest timeout Kyverno accepts.
			WebhookConfiguration: kyvernoWebhook{FailurePolicy: failurePolicy, TimeoutSeconds: 30},
			Rules:                []kyvernoRule{rule},
		},
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &Rendered{YAML: b}, nil
}

func kyvernoAttestor(s Spec) attestor {
	if s.Keyless == nil {
		k := &staticKey{PublicKeys: string(s.PublicKey), CTLog: &ctlog{IgnoreSCT: true}} // a key has no certificate to carry an SCT
		if s.Tlog == nil {
			k.Rekor = &rekor{IgnoreTlog: true}
		} else {
			k.Rekor = &rekor{URL: s.Tlog.URL, PubKey: string(s.Tlog.PublicKey)}
		}
		return attestor{Keys: k}
	}
	k := &keylessAttestor{
		Subject: s.Keyless.Subject, SubjectRegExp: s.Keyless.SubjectRegexp,
		Issuer: s.Keyless.Issuer, IssuerRegExp: s.Keyless.IssuerRegexp,
		Rekor: &rekor{URL: s.Tlog.URL, PubKey: string(s.Tlog.PublicKey)},
	}
	if s.Keyless.IgnoreSCT || len(s.Keyless.CTLogPublicKey) > 0 {
		k.CTLog = &ctlog{IgnoreSCT: s.Keyless.IgnoreSCT, PubKey: string(s.Keyless.CTLogPublicKey)}
	}
	return attestor{Keyless: k}
}

func kinds() []string {
	var k []string
	for _, w := range workloads {
		k = append(k, w.Kind)
	}
	return k
}

// description says in one paragraph what the policy checks.
func description(s Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Every image volume (volumes[].image.reference) of a Pod or pod template whose reference matches %s must carry a valid ", strings.Join(s.Images, ", "))
	if s.Signatures == Bundle {
		b.WriteString("Sigstore bundle signature (an OCI 1.1 referrer, as assetpack and cosign v3 write it by default) ")
	} else {
		b.WriteString("cosign signature in the sha256-<hex>.sig tag (as cosign v2 writes it, and assetpack in the legacy or both signature format) ")
	}
	if s.Keyless == nil {
		b.WriteString("made with the policy's public key")
		if s.Tlog != nil {
			fmt.Fprintf(&b, " and recorded in the Rekor log at %s", s.Tlog.URL)
		}
	} else {
		b.WriteString("from a Fulcio certificate ")
		if s.Keyless.Subject != "" {
			fmt.Fprintf(&b, "of the identity %s", s.Keyless.Subject)
		} else {
			fmt.Fprintf(&b, "of an identity matching %s", s.Keyless.SubjectRegexp)
		}
		if s.Keyless.Issuer != "" {
			fmt.Fprintf(&b, " issued by %s", s.Keyless.Issuer)
		} else {
			fmt.Fprintf(&b, " issued by an OIDC issuer matching %s", s.Keyless.IssuerRegexp)
		}
		fmt.Fprintf(&b, ", recorded in the Rekor log at %s", s.Tlog.URL)
	}
	b.WriteString(". Container images are not checked by this policy.")
	return b.String()
}
