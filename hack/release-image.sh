#!/usr/bin/env bash
# Packs the linux/amd64 and linux/arm64 binaries of a GoReleaser run (DIST,
# default dist) into assetpack's own image with assetpack itself: an OCI
# image index with one FROM-scratch-style image per platform (the binary
# alone, /assetpack, mode 0755), built with `assetpack build --platform-dir`,
# so the project ships its own output. Every further argument goes to
# `assetpack build`; without any the image goes to the OCI layout
# DIST/image. The release workflow pushes and signs it:
#
#   hack/release-image.sh dist -t ghcr.io/assetpack/assetpack:v1.0.0 --push --sign
#
# The image is built by the release's own binary for this machine
# (DIST/*_<os>_<arch>*/assetpack), or by $ASSETPACK when set. The version
# comes from DIST/metadata.json; inside the git checkout, assetpack takes
# the timestamp and the source/revision annotations from the HEAD commit,
# so the same release gives the same digest again.
set -euo pipefail
dist="${1:-dist}"
[ $# -gt 0 ] && shift
fail() { echo "release-image: $*" >&2; exit 1; }
[ -d "$dist" ] || fail "no $dist directory: run goreleaser first (make release-check or make release-snapshot)"

# binary OS ARCH: the one assetpack GoReleaser built for OS/ARCH in $dist.
binary() {
  local found=()
  for f in "$dist"/*_"$1"_"$2"*/assetpack; do
    [ -f "$f" ] && found+=("$f")
  done
  [ ${#found[@]} -eq 1 ] || fail "want one assetpack binary for $1/$2 in $dist/*_$1_$2*/, found ${#found[@]}: ${found[*]:-none}"
  echo "${found[0]}"
}
amd64="$(binary linux amd64)"
arm64="$(binary linux arm64)"

host_os="$(uname -s | tr '[:upper:]' '[:lower:]')"
host_arch="$(uname -m)"
case "$host_arch" in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; esac
assetpack="${ASSETPACK:-}"
if [ -z "$assetpack" ]; then
  assetpack="$(binary "$host_os" "$host_arch")" || fail "no release binary for this machine ($host_os/$host_arch) in $dist: set ASSETPACK to an assetpack binary"
fi

version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dist/metadata.json")" ||
  fail "cannot read the version from $dist/metadata.json"

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--output "oci:$dist/image")
exec "$assetpack" build \
  --platform-dir "linux/amd64=$(dirname "$amd64")" \
  --platform-dir "linux/arm64=$(dirname "$arm64")" \
  --annotation "org.opencontainers.image.title=assetpack" \
  --annotation "org.opencontainers.image.version=$version" \
  --annotation "org.opencontainers.image.description=The assetpack CLI: pull this image (assetpack pull, crane export) or mount it as a Kubernetes image volume, then run /assetpack" \
  "${args[@]}"
