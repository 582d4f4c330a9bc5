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
	"assetpack sign REPO@sha256:<hex>":                                                   "keyless signing needs an OIDC token and the public Fulcio and Rekor (e2e/keyless_test.go signs keylessly against a private Fulcio and Rekor)",
	"assetpack sign ghcr.io/acme/site@sha256:…":                                          "keyless signing needs an OIDC token and the public Fulcio and Rekor (e2e/keyless_test.go signs keylessly against a private Fulcio and Rekor)",
	"assetpack verify REPO:v42 --certificate-identity … --certificate-oidc-issuer …":     "keyless verification fetches the public Sigstore root through its TUF repository (e2e/keyless_test.go verifies against a private root)",
	"assetpack verify REF --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com":                       "keyless verification fetches the public Sigstore root through its TUF repository (e2e/keyless_test.go verifies against a private root)",
	"assetpack copy SRC DST --require-signature --certificate-identity https://github.com/acme/site/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com": "keyless verification fetches the public Sigstore root through its TUF repository",

	// The install paths of a published release: github.com, ghcr.io, Homebrew.
	"for f in \"assetpack_${VERSION}_${OS}_${ARCH}.tar.gz\" checksums.txt checksums.txt.sig checksums.txt.pem; do curl -fsSLO \"$base/$f\" done":                                                                                                                                                   "downloads the published release from github.com; hack/check-install.sh (make release-check) runs the archive path on the snapshot",
	"cosign verify-blob checksums.txt --signature checksums.txt.sig --certificate checksums.txt.pem --certificate-identity-regexp '^https://github\\.com/assetpack/assetpack/\\.github/workflows/release\\.yml@refs/tags/v' --certificate-oidc-issuer https://token.actions.githubusercontent.com": "a keyless signature checked against the public Sigstore root (e2e/action_test.go verifies a key-signed checksums.txt the same way)",
	"sha256sum --check --ignore-missing checksums.txt":                                    "checks the downloaded release; hack/check-install.sh runs it on the snapshot",
	"tar -xzf \"assetpack_${VERSION}_${OS}_${ARCH}.tar.gz\" assetpack assetpack-sigstore": "extracts the downloaded release; hack/check-install.sh runs it on the snapshot",
	"sudo install assetpack assetpack-sigstore /usr/local/bin/ && assetpack version":      "installs system-wide; hack/check-install.sh runs the extracted pair (version, and generate-key-pair through the hand-off) on the snapshot",
	"assetpack pull ghcr.io/assetpack/assetpack:v1.0.0 ./assetpack-v1.0.0 --platform linux/amd64 --require-signature --certificate-oidc-issuer https://token.actions.githubusercontent.com --certificate-identity https://github.com/assetpack/assetpack/.github/workflows/release.yml@refs/tags/v1.0.0": "keyless verification needs the public Sigstore root; e2e/release_test.go (TestReleaseImage) pulls the signed release image and runs it",
	"./assetpack-v1.0.0/assetpack version": "runs the binary pulled from the published image; TestReleaseImage runs it from the local one",
	"crane export --platform linux/amd64 ghcr.io/assetpack/assetpack:v1.0.0 - | tar -x assetpack assetpack-sigstore": "reads the published image on ghcr.io; TestReleaseImage runs crane export on the local one",
	"./assetpack version":                         "runs the binary exported from the published image; TestReleaseImage runs it from the local one",
	"brew install --cask assetpack/tap/assetpack": "needs Homebrew and the published tap; hack/check-release.sh checks the cask GoReleaser writes",
	"git clone https://github.com/assetpack/assetpack && cd assetpack && make install": "clones from github.com; hack/check-install.sh runs make install from the checkout",
	"go install github.com/assetpack/assetpack/cmd/assetpack@latest":                   "fetches the published module; hack/check-install.sh runs make install from the checkout",

	// Commands that need a cluster or another client.
	"cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type spdxjson REPO:v42": "e2e/sbom_test.go (TestSBOMDocumentedCommands) runs the README's SBOM block as written with cosign v2.6.5 and v3.1.3",
	"kubectl -n models rollout status daemonset/llama-warmup":                                    "needs a cluster whose nodes run the DaemonSet's Pods (e2e/containerd_test.go mounts the warm-up Pod's volume through containerd's CRI)",
	"oras discover REPO:v1": "oras needs --plain-http for the test registry; e2e/modelpack_test.go runs oras discover on the same --modelpack push",

	// Synopses: every choice they show runs in a concrete example.
	"assetpack patch … --format strategic|json6902|pod|kustomize [--output FILE|DIR] [-f workload.yaml]": "a synopsis of the formats; each format runs in the Examples of patch --help (docs/cli/assetpack_patch.md)",
}
