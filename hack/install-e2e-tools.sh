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
)

# Go tools: name|package|version[|nopath]. Pinned: some @latest do not
# resolve here. "nopath" tools share a binary name with another version and
# are found by the tests in $TOOLS_DIR/NAME-VERSION/bin instead of on PATH.
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
)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

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
    if ! CGO_ENABLED=0 GOBIN="$tmp" go install "$pkg@$version" >&2; then
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
