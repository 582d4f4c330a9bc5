#!/usr/bin/env bash
# Installs assetpack for the GitHub Action: a pinned release binary whose
# checksum is verified against the release's checksums.txt, or, with no
# version, a build from the action's own source (needs Go on the runner).
set -euo pipefail
dest="${RUNNER_TEMP:-/tmp}/assetpack-bin"
mkdir -p "$dest"
if [ -z "${INPUT_VERSION:-}" ]; then
  if [ ! -f "$ACTION_PATH/go.mod" ] || ! command -v go >/dev/null; then
    echo "::error::set the 'version' input (a release such as v0.3.0), or run actions/setup-go first to build assetpack from source" >&2
    exit 1
  fi
  echo "building assetpack from $ACTION_PATH" >&2
  (cd "$ACTION_PATH" && CGO_ENABLED=0 go build -o "$dest/assetpack" ./cmd/assetpack)
else
  version="${INPUT_VERSION#v}"
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; esac
  base="${INPUT_RELEASE_URL:-https://github.com/assetpack/assetpack/releases/download}"
  base="${base%/}/v${version}"
  archive="assetpack_${version}_${os}_${arch}.tar.gz"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/$archive" "$base/$archive" || { echo "::error::cannot download $base/$archive: is $INPUT_VERSION a release?" >&2; exit 1; }
  curl -fsSL --retry 3 -o "$tmp/checksums.txt" "$base/checksums.txt" || { echo "::error::cannot download $base/checksums.txt" >&2; exit 1; }
  grep -q " ${archive}\$" "$tmp/checksums.txt" || { echo "::error::checksums.txt of $INPUT_VERSION does not list $archive" >&2; exit 1; }
  (cd "$tmp" && grep " ${archive}\$" checksums.txt | sha256sum -c --quiet -) || { echo "::error::checksum mismatch for $archive: not installing it" >&2; exit 1; }
  tar -xzf "$tmp/$archive" -C "$dest" assetpack
fi
echo "$dest" >> "${GITHUB_PATH:-/dev/null}"
"$dest/assetpack" version >&2
