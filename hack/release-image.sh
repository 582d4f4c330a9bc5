#!/usr/bin/env bash
# Packs the linux/amd64 and linux/arm64 binaries of a GoReleaser run (DIST,
# default dist) into assetpack's own image with assetpack itself: an OCI
# image index with one FROM-scratch-style image per platform holding the two
# binaries alone, /assetpack (the lite build) and /assetpack-sigstore (the
# default build it runs to sign and verify), both mode 0755, built with
# `assetpack build --platform-dir`, so the project ships its own output.
# Every further argument goes to `assetpack build`; without any the image
# goes to the OCI layout DIST/image. The release workflow pushes and signs
# it:
#
#   hack/release-image.sh dist -t ghcr.io/assetpack/assetpack:v1.0.0 --push --sign
#
# GoReleaser writes each build to a directory of its own
# (DIST/assetpack_linux_amd64_v1/assetpack,
# DIST/assetpack-sigstore_linux_amd64_v1/assetpack-sigstore), so each
# platform's tree is staged first in DIST/image-root/linux_<arch>, made
# afresh on every run: the two files copied, nothing else. The image is
# built by the release's own binary for this machine
# (DIST/*_<os>_<arch>*/assetpack, which runs the assetpack-sigstore beside
# it in DIST for --sign), or by $ASSETPACK when set. The version comes from
# DIST/metadata.json; inside the git checkout, assetpack takes the
# timestamp and the source/revision annotations from the HEAD commit, and
# it keeps only whether a file is executable (0755) or not, so the same
# release gives the same digest again.
set -euo pipefail
dist="${1:-dist}"
[ $# -gt 0 ] && shift
fail() { echo "release-image: $*" >&2; exit 1; }
[ -d "$dist" ] || fail "no $dist directory: run goreleaser first (make release-check or make release-snapshot)"

# binary OS ARCH NAME: the one NAME GoReleaser built for OS/ARCH in $dist.
binary() {
  local found=() f
  for f in "$dist"/*_"$1"_"$2"*/"$3"; do
    [ -f "$f" ] && found+=("$f")
  done
  [ ${#found[@]} -eq 1 ] || fail "want one $3 binary for $1/$2 in $dist/*_$1_$2*/, found ${#found[@]}: ${found[*]:-none}"
  echo "${found[0]}"
}

root="$dist/image-root"
rm -rf "$root"
for arch in amd64 arm64; do
  mkdir -p "$root/linux_$arch"
  for name in assetpack assetpack-sigstore; do
    src="$(binary linux "$arch" "$name")"
    cp "$src" "$root/linux_$arch/$name"
    chmod 0755 "$root/linux_$arch/$name"
  done
done

host_os="$(uname -s | tr '[:upper:]' '[:lower:]')"
host_arch="$(uname -m)"
case "$host_arch" in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; esac
assetpack="${ASSETPACK:-}"
if [ -z "$assetpack" ]; then
  assetpack="$(binary "$host_os" "$host_arch" assetpack)" || fail "no release binary for this machine ($host_os/$host_arch) in $dist: set ASSETPACK to an assetpack binary"
  if [ -z "${ASSETPACK_SIGSTORE:-}" ]; then
    ASSETPACK_SIGSTORE="$(binary "$host_os" "$host_arch" assetpack-sigstore)" ||
      fail "no assetpack-sigstore for this machine ($host_os/$host_arch) in $dist: set ASSETPACK_SIGSTORE to one (it signs for --sign)"
    export ASSETPACK_SIGSTORE
  fi
fi

version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dist/metadata.json")" ||
  fail "cannot read the version from $dist/metadata.json"

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--output "oci:$dist/image")
exec "$assetpack" build \
  --platform-dir "linux/amd64=$root/linux_amd64" \
  --platform-dir "linux/arm64=$root/linux_arm64" \
  --annotation "org.opencontainers.image.title=assetpack" \
  --annotation "org.opencontainers.image.version=$version" \
  --annotation "org.opencontainers.image.description=The assetpack CLI: pull this image (assetpack pull, crane export) or mount it as a Kubernetes image volume, then run /assetpack (it runs /assetpack-sigstore, beside it, to sign and verify)" \
  "${args[@]}"
