#!/usr/bin/env bash
# Installs the release tools, cached by version like the e2e tools (same
# directory layout, so cosign is shared with them): GoReleaser (`make
# release-check`, `make release-snapshot`, the release workflow), with
# --with-sbom syft, which GoReleaser runs to write one SBOM per archive, and
# with --with-cosign the cosign CLI that signs checksums.txt. Prints an
# `export PATH=...` line with --print-path.
set -euo pipefail
TOOLS_DIR="${ASSETPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/assetpack/tools}"

# install NAME VERSION PACKAGE: go install PACKAGE@VERSION into
# $TOOLS_DIR/NAME-VERSION/bin unless it is already there; echoes that dir.
install() {
  local name=$1 version=$2 pkg=$3 dir="$TOOLS_DIR/$1-$2/bin"
  if [ ! -x "$dir/$name" ]; then
    echo "installing $name $version with go install (cached in $dir)" >&2
    mkdir -p "$TOOLS_DIR"
    local tmp
    tmp="$(mktemp -d "$TOOLS_DIR/.tmp.XXXXXX")"
    CGO_ENABLED=0 GOBIN="$tmp" go install "$pkg@$version" >&2 || { rm -rf "$tmp"; exit 1; }
    mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  echo "$dir"
}

print_path=false sbom=false cosign=false
for arg in "$@"; do
  case "$arg" in
    --print-path) print_path=true ;;
    --with-sbom) sbom=true ;;
    --with-cosign) cosign=true ;;
    *) echo "usage: $0 [--print-path] [--with-sbom] [--with-cosign]" >&2; exit 2 ;;
  esac
done

# Newer GoReleaser releases need Go 1.27 or modules this machine cannot reach.
path="$(install goreleaser v2.15.1 github.com/goreleaser/goreleaser/v2)"
if $sbom; then path="$path:$(install syft v1.57.1 github.com/anchore/syft/cmd/syft)"; fi
if $cosign; then path="$path:$(install cosign v2.6.5 github.com/sigstore/cosign/v2/cmd/cosign)"; fi
if $print_path; then echo "export PATH=$path:\$PATH"; fi
