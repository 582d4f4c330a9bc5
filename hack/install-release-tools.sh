#!/usr/bin/env bash
# Installs GoReleaser for `make release-check`, cached by version like the
# e2e tools. Prints an `export PATH=...` line with --print-path.
set -euo pipefail
TOOLS_DIR="${ASSETPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/assetpack/tools}"
version=v2.15.1 # newer releases need Go 1.27 or modules this machine cannot reach
dir="$TOOLS_DIR/goreleaser-$version/bin"
if [ ! -x "$dir/goreleaser" ]; then
  echo "installing goreleaser $version with go install (cached in $dir)" >&2
  mkdir -p "$TOOLS_DIR"
  tmp="$(mktemp -d "$TOOLS_DIR/.tmp.XXXXXX")"
  CGO_ENABLED=0 GOBIN="$tmp" go install "github.com/goreleaser/goreleaser/v2@$version" >&2 || { rm -rf "$tmp"; exit 1; }
  mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp" "$dir"
fi
if [ "${1:-}" = "--print-path" ]; then echo "export PATH=$dir:\$PATH"; fi
