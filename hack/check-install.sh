#!/usr/bin/env bash
# Runs the install paths of the README's "Install" section on what
# `goreleaser release --snapshot` wrote into DIST (default dist), as a new
# user would, for this machine's platform:
#   1. the release archive: checksums.txt checked with sha256sum, the two
#      binaries extracted with tar (unzip on Windows) and run;
#   2. assetpack's own image (the OCI layout hack/release-image.sh writes to
#      DIST/image): `assetpack pull` of this platform into a directory, then
#      the binaries run from the pulled tree (the e2e test TestReleaseImage
#      does the same through a registry, with crane export too);
#   3. from source: `make install` into a temporary GOBIN, then run.
# Each path installs assetpack (the lite build) and assetpack-sigstore (the
# default build it runs to sign and verify): both must say the version
# GoReleaser stamped (DIST/metadata.json), or, from source, the commit they
# were built from, and assetpack generate-key-pair, which only
# assetpack-sigstore runs, must work from each install with nothing but
# the install itself to find it (no ASSETPACK_SIGSTORE, an empty PATH).
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

exe=""
[ "$os" = windows ] && exe=.exe

# says BINARY WANT: `BINARY version --json` reports WANT as its version.
says() {
  local got
  got="$("$1" version --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ||
    fail "$1 version --json failed"
  [ "$got" = "$2" ] || fail "$1 says version $got, want $2"
}

# installed DIR WANT: DIR holds assetpack and assetpack-sigstore, both say
# version WANT, and DIR/assetpack hands generate-key-pair to the
# assetpack-sigstore beside it (in an environment of its own, so that it
# finds no other).
installed() {
  local b keys="$tmp/keys-${1##*/}"
  for b in assetpack assetpack-sigstore; do
    [ -x "$1/$b$exe" ] || fail "no $b$exe in $1 (it holds: $(ls -A "$1" | tr '\n' ' '))"
    says "$1/$b$exe" "$2"
  done
  mkdir -p "$keys" "$tmp/empty" "$tmp/home"
  (cd "$keys" && env -i PATH="$tmp/empty" HOME="$tmp/home" COSIGN_PASSWORD=x "$1/assetpack$exe" generate-key-pair >"$keys.log" 2>&1) ||
    fail "$1/assetpack$exe generate-key-pair (run by assetpack-sigstore beside it) failed: $(cat "$keys.log")"
  if [ ! -s "$keys/cosign.key" ] || [ ! -s "$keys/cosign.pub" ]; then
    fail "$1/assetpack$exe generate-key-pair wrote no cosign.key and cosign.pub: $(cat "$keys.log")"
  fi
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
  if [ "$ext" = zip ]; then
    unzip -q "$archive" assetpack.exe assetpack-sigstore.exe || fail "cannot extract assetpack.exe and assetpack-sigstore.exe from $archive"
  else
    tar -xzf "$archive" assetpack assetpack-sigstore || fail "cannot extract assetpack and assetpack-sigstore from $archive"
  fi
)
installed "$tmp/archive" "$version"
echo "install: $archive: checksum, extract assetpack and assetpack-sigstore, run, generate-key-pair handed off: version $version"

# 2. assetpack's own image, from the layout.
if [ -d "$dist/image" ]; then
  "$tmp/archive/assetpack" pull -q "oci:$dist/image" "$tmp/image" --platform "linux/$arch" >/dev/null ||
    fail "assetpack pull oci:$dist/image failed"
  got="$(ls -A "$tmp/image" | tr '\n' ' ')"
  [ "$got" = "assetpack assetpack-sigstore " ] || fail "the image of $dist/image holds $got, want only assetpack and assetpack-sigstore"
  installed "$tmp/image" "$version"
  echo "install: the image in $dist/image: pull linux/$arch, run assetpack and assetpack-sigstore, generate-key-pair handed off: version $version"
else
  echo "install: no $dist/image (hack/release-image.sh writes it): the image path is not checked" >&2
fi

# 3. From source, into a GOBIN of our own.
GOBIN="$tmp/gobin" make -s -C "$root" install >/dev/null
want="$(cd "$root" && git describe --tags --always --dirty)"
installed "$tmp/gobin" "$want"
echo "install: make install from source: assetpack and assetpack-sigstore, generate-key-pair handed off: version $want"
