#!/usr/bin/env bash
# Installs what `make bench-compare` runs: the real registry and the peers a
# user would pick instead of assetpack, pinned and cached by version like the
# e2e tools (${ASSETPACK_TOOLS_DIR:-~/.cache/assetpack/tools}/NAME-VERSION).
# Prints `export PATH=...` with --print-path.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker-registry zstd gzip tar)
# shellcheck source=lib.sh
. hack/lib.sh
apt_install "${APT_PACKAGES[@]}"

# install NAME VERSION CMD...: runs CMD with GOBIN set to a fresh directory,
# then moves it into the cache.
install() {
  local name=$1 version=$2; shift 2
  local dir="$TOOLS_DIR/$name-$version/bin"
  if [ ! -x "$dir/$name" ]; then
    log "installing $name $version (cached in $dir)"
    mkdir -p "$TOOLS_DIR"
    local tmp; tmp="$(mktemp -d "$TOOLS_DIR/.tmp.XXXXXX")"
    if ! (export CGO_ENABLED=0 GOBIN="$tmp"; "$@") >&2; then rm -rf "$tmp"; log "installing $name failed"; exit 1; fi
    mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  paths+=("$dir")
  log "bench tool: $name $version"
}
paths=()
install crane v0.22.1 go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
install oras v1.3.6 go install oras.land/oras/cmd/oras@v1.3.6
# imgpkg: built from the pinning module in hack/tools/imgpkg (see tools.go there).
install imgpkg v0.44.0 bash -c 'cd hack/tools/imgpkg && go install carvel.dev/imgpkg/cmd/imgpkg'
# toxiproxy shapes the per-connection profile (each connection limited on
# its own); its command is named server upstream.
install toxiproxy-server v2.12.0 bash -c 'go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 && mv "$GOBIN/server" "$GOBIN/toxiproxy-server"'

if [ "${1:-}" = "--print-path" ]; then
  (IFS=:; echo "export PATH=${paths[*]}:\$PATH")
fi
