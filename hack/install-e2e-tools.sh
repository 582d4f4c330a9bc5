#!/usr/bin/env bash
# Installs the third-party tools the end-to-end tests run against: Debian
# packages with apt-get, Go tools with `go install` into a cache directory
# keyed by version (${ASSETPACK_TOOLS_DIR:-~/.cache/assetpack/tools}/NAME-VERSION).
# Anything already installed at the wanted version is skipped, so a second
# run costs milliseconds. Prints `export PATH=...` lines for the Go tools on
# stdout when called with --print-path.
set -euo pipefail

# Debian packages, and why the tests need them.
APT_PACKAGES=(
  skopeo          # reads our layouts, archives and pushed images back
  umoci           # unpacks our layouts to a root filesystem compared with the source
  docker-registry # the real registry (distribution 2.8) pushed to on 127.0.0.1
  runc            # the OCI runtime containerd's shim starts containers with
  openssl         # makes the self-signed CA for the TLS registry
  apache2-utils   # htpasswd for the registry's basic auth
  jq              # the documented `assetpack … --json | jq …` command lines (e2e/docs_test.go)
)

# Go tools: name|package|version[|flag]. Pinned: some @latest do not
# resolve here. "nopath" tools share a binary name with another version and
# are found by the tests in $TOOLS_DIR/NAME-VERSION/bin instead of on PATH.
# "module=MODULE" tools cannot be installed with `go install pkg@version`
# because MODULE's go.mod has replace directives: the module's source is
# downloaded through the module proxy and built as the main module, which
# honours them (the binary is what the project's own release build makes).
GO_TOOLS=(
  "crane|github.com/google/go-containerregistry/cmd/crane|v0.22.1"
  "containerd|github.com/containerd/containerd/v2/cmd/containerd|v2.4.2"
  "containerd-shim-runc-v2|github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2|v2.4.2"
  "crictl|sigs.k8s.io/cri-tools/cmd/crictl|v1.37.0"
  # standalone kustomize: the one embedded in kubectl 1.32 (v5.5) does not
  # rewrite image volume references
  "kustomize|sigs.k8s.io/kustomize/kustomize/v5|v5.8.2"
  # both cosign CLI lines verify what assetpack signs, and sign what it verifies
  "cosign|github.com/sigstore/cosign/v2/cmd/cosign|v2.6.5|nopath"
  "cosign|github.com/sigstore/cosign/v3/cmd/cosign|v3.1.3|nopath"
  # lists the OCI 1.1 referrers assetpack attaches (oras discover)
  "oras|oras.land/oras/cmd/oras|v1.3.6"
  # lints the GitHub Action and the example workflows
  "actionlint|github.com/rhysd/actionlint/cmd/actionlint|v1.7.12"
  # applies the Kyverno ClusterPolicy of assetpack policy, verifying signatures
  # in the local registry; a big build (~10 min cold on 2 cores)
  "kubectl-kyverno|github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno|v1.19.1|module=github.com/kyverno/kyverno"
  # runs assetpack krm with kpt fn eval --exec. The module's old path: the
  # new one (github.com/kptdev/kpt@v1.0.0-beta.61) needs a module the proxy
  # does not serve. About 5 minutes of CPU to build cold.
  "kpt|github.com/GoogleContainerTools/kpt|v1.0.0-beta.57"
)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# go_build_module MODULE PACKAGE VERSION OUT: builds PACKAGE of MODULE@VERSION
# (downloaded through the module proxy) with MODULE as the main module.
go_build_module() {
  local module="$1" pkg="$2" version="$3" out="$4" dir src
  src="$(mktemp -d)"
  dir="$(cd "$src" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && cp -R "$dir/." "$src" && chmod -R u+w "$src" &&
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$out" "./${pkg#"$module"/}") >&2
  local rc=$?
  rm -rf "$src"
  return $rc
}

print_path=false
if [ "${1:-}" = "--print-path" ]; then print_path=true; fi

apt_install "${APT_PACKAGES[@]}"

paths=()
for t in "${GO_TOOLS[@]}"; do
  IFS='|' read -r name pkg version flag <<<"$t"
  dir="$TOOLS_DIR/$name-$version/bin"
  if [ ! -x "$dir/$name" ]; then
    log "installing $name $version with go install (cached in $dir)"
    tmp="$(mktemp -d "$TOOLS_DIR.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$TOOLS_DIR" && mktemp -d "$TOOLS_DIR/.tmp.XXXXXX"; })"
    if [[ "${flag:-}" == module=* ]]; then
      if ! go_build_module "${flag#module=}" "$pkg" "$version" "$tmp/$name"; then
        rm -rf "$tmp"
        log "building $pkg from ${flag#module=}@$version failed"
        exit 1
      fi
    elif ! CGO_ENABLED=0 GOBIN="$tmp" go install "$pkg@$version" >&2; then
      rm -rf "$tmp"
      log "go install $pkg@$version failed"
      exit 1
    fi
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  if [ "${flag:-}" != "nopath" ]; then paths+=("$dir"); fi
done

for p in "${APT_PACKAGES[@]}"; do
  log "e2e tool: $p $(dpkg-query -W -f='${Version}' "$p")"
done
for t in "${GO_TOOLS[@]}"; do
  IFS='|' read -r name _ version _ <<<"$t"
  log "e2e tool: $name $version"
done
if $print_path; then
  (IFS=:; echo "export PATH=${paths[*]}:\$PATH")
  echo "export ASSETPACK_TOOLS_DIR=$TOOLS_DIR"
fi
