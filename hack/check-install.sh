#!/usr/bin/env bash
# Runs the install paths of the README's "Install" section on what
# `goreleaser release --snapshot` wrote into DIST (default dist), as a new
# user would, for this machine's platform:
#   1. the release archive: checksums.txt checked with sha256sum, the
#      binary extracted with tar (unzip on Windows) and run;
#   2. assetpack's own image (the OCI layout hack/release-image.sh writes to
#      DIST/image): `assetpack pull` of this platform into a directory, then
#      the binary run from the pulled tree (the e2e test TestReleaseImage
#      does the same through a registry, with crane export too);
#   3. from source: `make install` into a temporary GOBIN, then run.
# Each binary must say the version GoReleaser stamped (DIST/metadata.json),
# or, from source, the commit it was built from.
set -euo pipefail
dist="$(cd "${1:-dist}" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
fail() { echo "install: $*" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dist/metadata.json")"
os="$(uname -s | tr '[:upper:]' '[:lower:]')"
arch="$(uname -m)"
case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

# says BINARY WANT: `BINARY version --json` reports WANT as its version.
says() {
  local got
  got="$("$1" version --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ||
    fail "$1 version --json failed"
  [ "$got" = "$2" ] || fail "$1 says version $got, want $2"
}

# 1. The release archive.
ext=tar.gz
[ "$os" = windows ] && ext=zip
archive="assetpack_${version}_${os}_${arch}.${ext}"
[ -f "$dist/$archive" ] || fail "no $archive in $dist"
mkdir "$tmp/archive"
cp "$dist/$archive" "$dist/checksums.txt" "$tmp/archive/"
(
  cd "$tmp/archive"
  sha256sum --check --ignore-missing checksums.txt >/dev/null || fail "$archive does not match checksums.txt"
  if [ "$ext" = zip ]; then unzip -q "$archive" assetpack.exe; else tar -xzf "$archive" assetpack; fi
)
says "$tmp/archive/assetpack" "$version"
echo "install: $archive: checksum, extract, run: version $version"

# 2. assetpack's own image, from the layout.
if [ -d "$dist/image" ]; then
  "$tmp/archive/assetpack" pull -q "oci:$dist/image" "$tmp/image" --platform "linux/$arch" >/dev/null ||
    fail "assetpack pull oci:$dist/image failed"
  [ "$(ls -A "$tmp/image")" = assetpack ] || fail "the image of $dist/image holds $(ls -A "$tmp/image" | tr '\n' ' '), want only assetpack"
  says "$tmp/image/assetpack" "$version"
  echo "install: the image in $dist/image: pull linux/$arch, run: version $version"
else
  echo "install: no $dist/image (hack/release-image.sh writes it): the image path is not checked" >&2
fi

# 3. From source, into a GOBIN of our own.
GOBIN="$tmp/gobin" make -s -C "$root" install >/dev/null
want="$(cd "$root" && git describe --tags --always --dirty)"
says "$tmp/gobin/assetpack" "$want"
echo "install: make install from source: version $want"
