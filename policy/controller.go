package policy

import (
	"sigs.k8s.io/yaml"
)

// The ClusterImagePolicy, as far as this package writes it
// (policy.sigstore.dev/v1beta1, pkg/apis/policy/v1beta1 in
// github.com/sigstore/policy-controller).
type (
	imagePolicy struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Metadata   meta            `json:"metadata"`
		Spec       imagePolicySpec `json:"spec"`
	}
	imagePolicySpec struct {
		Mode        string      `json:"mode"`
		Images      []glob      `json:"images"`
		Authorities []authority `json:"authorities"`
	}
	glob struct {
		Glob string `json:"glob"`
	}
	authority struct {
		Name            string      `json:"name"`
		Key             *keyRef     `json:"key,omitempty"`
		Keyless         *keylessRef `json:"keyless,omitempty"`
		CTLog           *tlogRef    `json:"ctlog,omitempty"`
		SignatureFormat string      `json:"signatureFormat,omitempty"`
	}
	keyRef struct {
		Data string `json:"data"`
	}
	keylessRef struct {
		URL               string     `json:"url"`
		Identities        []identity `json:"identities"`
		InsecureIgnoreSCT bool       `json:"insecureIgnoreSCT,omitempty"`
	}
	identity struct {
		Issuer        string `json:"issuer,omitempty"`
		Subject       string `json:"subject,omitempty"`
		IssuerRegExp  string `json:"issuerRegExp,omitempty"`
		SubjectRegExp string `json:"subjectRegExp,omitempty"`
	}
	tlogRef struct {
		URL string `json:"url"`
	}
)

// PolicyControllerVolumesWarning: the policy-controller's releases up to
// v0.15.1 validate the images of containers, init containers and
// ephemeral containers only. Image volumes are validated (and their tags
// resolved to digests) since sigstore/policy-controller#1976, merged on
// 2026-06-22 after v0.15.1.
const PolicyControllerVolumesWarning = "the sigstore policy-controller checks image volumes only in builds that include " +
	"sigstore/policy-controller#1976 (merged June 2026, after v0.15.1); v0.15.1 and earlier check container images only " +
	"and admit an unsigned image volume without a warning: check your version before relying on this policy"

// volumesAnnotation carries the same caveat on the object, for whoever
// reads the policy in the cluster later.
const volumesAnnotation = "assetpack.dev/image-volumes"

// renderPolicyController writes one ClusterImagePolicy with one authority.
// The controller reads the pod spec of Pods and pod controllers itself;
// the policy only says which images and which signer.
func renderPolicyController(s Spec) (*Rendered, error) {
	a := authority{Name: "assetpack"}
	if s.Keyless == nil {
		a.Key = &keyRef{Data: string(s.PublicKey)}
		if s.Tlog != nil {
			if len(s.Tlog.PublicKey) > 0 {
				return nil, invalid("Tlog.PublicKey", "", "the policy-controller reads a private Rekor log's key from a TrustRoot resource, which assetpack does not write; drop the key (the public Sigstore root is used) or add trustRootRef to the policy yourself")
			}
			// An authority's ctlog makes the controller require a log entry;
			// without it a key's signatures are checked without the log.
			a.CTLog = &tlogRef{URL: s.Tlog.URL}
		}
	} else {
		k := s.Keyless
		switch {
		case len(s.Tlog.PublicKey) > 0:
			return nil, invalid("Tlog.PublicKey", "", "the policy-controller reads a private Rekor log's key from a TrustRoot resource, which assetpack does not write")
		case len(k.CTLogPublicKey) > 0:
			return nil, invalid("Keyless.CTLogPublicKey", "", "the policy-controller reads a private CT log's key from a TrustRoot resource, which assetpack does not write")
		}
		a.Keyless = &keylessRef{
			URL:               DefaultFulcioURL,
			Identities:        []identity{{Issuer: k.Issuer, Subject: k.Subject, IssuerRegExp: k.IssuerRegexp, SubjectRegExp: k.SubjectRegexp}},
			InsecureIgnoreSCT: k.IgnoreSCT,
		}
		// Without ctlog, keyless signatures are checked offline against
		// the Rekor keys of the public trust root (the log's promise is
		// in the signature); a private log's URL is looked up online.
		if s.Tlog.URL != DefaultRekorURL {
			a.CTLog = &tlogRef{URL: s.Tlog.URL}
		}
		if s.Signatures == Bundle {
			a.SignatureFormat = string(Bundle)
		}
	}
	mode := "enforce"
	if s.Action == Audit {
		mode = "warn"
	}
	p := imagePolicy{
		APIVersion: "policy.sigstore.dev/v1beta1",
		Kind:       "ClusterImagePolicy",
		Metadata: meta{Name: s.Name, Annotations: map[string]string{
			volumesAnnotation: "checked only by policy-controller builds that include sigstore/policy-controller#1976 (after v0.15.1)",
		}},
		Spec: imagePolicySpec{Mode: mode, Authorities: []authority{a}},
	}
	for _, g := range s.Images {
		p.Spec.Images = append(p.Spec.Images, glob{Glob: g})
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &Rendered{YAML: b, Warnings: []string{PolicyControllerVolumesWarning}}, nil
}
