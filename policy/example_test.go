package policy_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/assetpack/assetpack/policy"
)

// ExampleRender writes a sigstore policy-controller ClusterImagePolicy for
// keyless signatures made by a GitHub Actions workflow of one organisation.
// The controller reads the pod spec itself, so the policy is short; the
// warning says which controller versions read image volumes at all.
func ExampleRender() {
	r, err := policy.Render(policy.Spec{
		Format: policy.PolicyController,
		Images: []string{"ghcr.io/acme/**"},
		Keyless: &policy.Keyless{
			SubjectRegexp: `^https://github\.com/acme/`,
			Issuer:        "https://token.actions.githubusercontent.com",
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(r.YAML))
	fmt.Println(len(r.Warnings), "warning")
	// Output:
	// apiVersion: policy.sigstore.dev/v1beta1
	// kind: ClusterImagePolicy
	// metadata:
	//   annotations:
	//     assetpack.dev/image-volumes: checked only by policy-controller builds that include
	//       sigstore/policy-controller#1976 (after v0.15.1)
	//   name: assetpack-image-volumes
	// spec:
	//   authorities:
	//   - keyless:
	//       identities:
	//       - issuer: https://token.actions.githubusercontent.com
	//         subjectRegExp: ^https://github\.com/acme/
	//       url: https://fulcio.sigstore.dev
	//     name: assetpack
	//     signatureFormat: bundle
	//   images:
	//   - glob: ghcr.io/acme/**
	//   mode: enforce
	// 1 warning
}

// ExampleRender_key writes a Kyverno ClusterPolicy for the signatures
// assetpack sign makes with cosign.key; its public half goes in the policy.
// A request the policy cannot express is an *Error that names the Spec
// field, matched with errors.Is(err, ErrInvalid).
func ExampleRender_key() {
	pub, err := os.ReadFile("testdata/cosign.pub")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := policy.Render(policy.Spec{
		Format:    policy.Kyverno,
		Images:    []string{"registry.example.com/web/*"},
		PublicKey: pub,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(r.YAML) > 0, len(r.Warnings))

	_, err = policy.Render(policy.Spec{Format: policy.Kyverno, Images: []string{"registry.example.com/web/*"}, PublicKey: []byte("cosign.pub")})
	var pe *policy.Error
	fmt.Println(errors.Is(err, policy.ErrInvalid), errors.As(err, &pe) && pe.Field == "PublicKey")
	// Output:
	// true 0
	// true true
}
