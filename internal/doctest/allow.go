package doctest

// AllowList names the documented commands that are not run, by their
// Text, with the reason. Every entry must match a command of the
// documentation (a stale entry fails the test), and a command that is
// neither run nor listed here fails it too.
var AllowList = map[string]string{
	"make test": "runs the whole suite, this test included",

	// Signing that needs an account or a network service.
	"assetpack sign REPO@sha256:<hex> --key awskms:///alias/site":                        "a KMS key needs a cloud account",
	"assetpack sign registry.example.com/web/site:v42 --key awskms:///alias/site --sbom": "a KMS key needs a cloud account",
	"assetpack sign REPO@sha256:<hex>":                                                   "keyless signing needs an OIDC token and the public Fulcio and Rekor (e2e/keyless_test.go signs keylessly against a private Fulcio)",
	"assetpack sign ghcr.io/acme/site@sha256:…":                                          "keyless signing needs an OIDC token and the public Fulcio and Rekor (e2e/keyless_test.go signs keylessly against a private Fulcio)",
	"assetpack verify REPO:v42 --certificate-identity … --certificate-oidc-issuer …":     "keyless verification fetches the public Sigstore root through its TUF repository (e2e/keyless_test.go verifies against a private root)",
	"assetpack verify REF --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com":                       "keyless verification fetches the public Sigstore root through its TUF repository (e2e/keyless_test.go verifies against a private root)",
	"assetpack copy SRC DST --require-signature --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com": "keyless verification fetches the public Sigstore root through its TUF repository",

	// Commands that need a cluster or another client.
	"cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type spdxjson REPO:v42": "e2e/sbom_test.go (TestSBOMDocumentedCommands) runs the README's SBOM block as written with cosign v2.6.5 and v3.1.3",
	"kubectl -n models rollout status daemonset/llama-warmup":                                    "needs a cluster whose nodes run the DaemonSet's Pods (e2e/containerd_test.go mounts the warm-up Pod's volume through containerd's CRI)",
	"oras discover REPO:v1": "oras needs --plain-http for the test registry; e2e/modelpack_test.go runs oras discover on the same --modelpack push",

	// Synopses: every choice they show runs in a concrete example.
	"assetpack patch … --format strategic|json6902|pod|kustomize [--output FILE|DIR] [-f workload.yaml]": "a synopsis of the formats; each format runs in the Examples of patch --help (docs/cli/assetpack_patch.md)",
}
