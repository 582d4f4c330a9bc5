#!/usr/bin/env bash
# Installs assetpack for the GitHub Action.
#
# install: release (the default) downloads a release archive and trusts it
# only after two checks, in this order:
#   1. checksums.txt's signature: by default the keyless one GoReleaser's
#      release workflow made (checksums.txt.sig + checksums.txt.pem, Fulcio
#      certificate of this repository's release workflow at a version tag,
#      GitHub's OIDC issuer, Rekor entry), checked with cosign verify-blob;
#      with release-public-key, a mirror's own key signature instead;
#   2. the archive's sha256 against that verified checksums.txt.
# install: source builds the action's own source (needs Go on the runner).
# Either way $dest gets assetpack and assetpack-sigstore, the build that
# assetpack runs to sign and verify (sign: true), beside it.
set -euo pipefail
dest="${RUNNER_TEMP:-/tmp}/assetpack-bin"
mkdir -p "$dest"
fail() { echo "::error::$*" >&2; exit 1; }

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

case "${INPUT_INSTALL:-release}" in
source)
  if [ ! -f "$ACTION_PATH/go.mod" ] || ! command -v go >/dev/null; then
    fail "install: source builds assetpack with Go: run actions/setup-go first (or use install: release)"
  fi
  echo "building assetpack and assetpack-sigstore from $ACTION_PATH" >&2
  exe="$(go env GOEXE)"
  # As a release builds them: assetpack with -tags lite, which hands the
  # commands that sign or verify to assetpack-sigstore, the default build.
  (cd "$ACTION_PATH" && CGO_ENABLED=0 go build -tags lite -trimpath -o "$dest/assetpack$exe" ./cmd/assetpack) ||
    fail "building assetpack from $ACTION_PATH failed"
  (cd "$ACTION_PATH" && CGO_ENABLED=0 go build -trimpath -o "$dest/assetpack-sigstore$exe" ./cmd/assetpack) ||
    fail "building assetpack-sigstore from $ACTION_PATH failed"
  ;;
release)
  base="${INPUT_RELEASE_URL:-https://github.com/assetpack/assetpack/releases/download}"
  base="${base%/}"
  version="${INPUT_VERSION:-}"
  # Used at a release tag (assetpack/assetpack@v1.0.0), the action installs
  # that release; at a branch or commit, the latest one.
  if [ -z "$version" ]; then
    case "${ACTION_REF:-}" in v[0-9]*.*.*) version="$ACTION_REF" ;; esac
  fi
  if [ -z "$version" ] || [ "$version" = latest ]; then
    # GitHub answers RELEASES/latest with a redirect to RELEASES/tag/VERSION.
    latest="${base%/download}/latest"
    loc="$(curl -fsS --retry 3 -o /dev/null -w '%{redirect_url}' "$latest" || true)"
    version="${loc##*/}"
    case "$version" in v[0-9]*) ;; *) fail "cannot find the latest release at $latest: set the 'version' input (e.g. v1.0.0)" ;; esac
    echo "latest release: $version" >&2
  fi
  version="v${version#v}"
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$os" in mingw* | msys* | cygwin*) os=windows ;; esac
  arch="$(uname -m)"
  case "$arch" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; esac
  ext=tar.gz
  [ "$os" = windows ] && ext=zip
  archive="assetpack_${version#v}_${os}_${arch}.${ext}"
  url="$base/$version"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  get() { curl -fsSL --retry 3 -o "$tmp/$1" "$url/$1"; }
  get "$archive" || fail "cannot download $url/$archive: is $version a release?"
  get checksums.txt || fail "cannot download $url/checksums.txt"
  get checksums.txt.sig || fail "cannot download $url/checksums.txt.sig: the release is not signed, so its checksums cannot be trusted; not installing"
  command -v cosign >/dev/null || fail "cosign is not on PATH: it verifies the signature of checksums.txt (the action installs it with sigstore/cosign-installer)"
  if [ -n "${INPUT_RELEASE_PUBLIC_KEY:-}" ]; then
    # A mirror that signs with its own key writes no transparency-log entry.
    verify=(--key "$INPUT_RELEASE_PUBLIC_KEY" --insecure-ignore-tlog=true)
    signer="the key $INPUT_RELEASE_PUBLIC_KEY"
  else
    get checksums.txt.pem || fail "cannot download $url/checksums.txt.pem: the keyless signature has no certificate; not installing"
    identity="${INPUT_RELEASE_IDENTITY_REGEXP:-^https://github\.com/assetpack/assetpack/\.github/workflows/release\.yml@refs/tags/v}"
    issuer="${INPUT_RELEASE_OIDC_ISSUER:-https://token.actions.githubusercontent.com}"
    verify=(--certificate "$tmp/checksums.txt.pem" --certificate-identity-regexp "$identity" --certificate-oidc-issuer "$issuer")
    signer="an identity matching $identity (issuer $issuer)"
  fi
  if ! cosign verify-blob "${verify[@]}" --signature "$tmp/checksums.txt.sig" "$tmp/checksums.txt" >"$tmp/cosign.log" 2>&1; then
    cat "$tmp/cosign.log" >&2
    fail "the signature of checksums.txt of $version does not verify as signed by $signer: not installing"
  fi
  echo "checksums.txt of $version is signed by $signer" >&2
  grep -q " ${archive}\$" "$tmp/checksums.txt" || fail "checksums.txt of $version does not list $archive"
  (cd "$tmp" && grep " ${archive}\$" checksums.txt | sha256 -c --quiet -) || fail "checksum mismatch for $archive: not installing it"
  # The archive's assetpack and assetpack-sigstore; an archive of a release
  # from before the split holds assetpack alone, a build that signs itself.
  # (grep reads the whole listing: with -q it could stop the lister early,
  # and pipefail would take that for a failure.)
  if [ "$ext" = zip ]; then
    bins=(assetpack.exe)
    if unzip -Z1 "$tmp/$archive" | grep -x 'assetpack-sigstore\.exe' >/dev/null; then bins+=(assetpack-sigstore.exe); fi
    unzip -q -o "$tmp/$archive" "${bins[@]}" -d "$dest" || fail "cannot extract ${bins[*]} from $archive"
  else
    bins=(assetpack)
    if tar -tzf "$tmp/$archive" | grep -x 'assetpack-sigstore' >/dev/null; then bins+=(assetpack-sigstore); fi
    tar -xzf "$tmp/$archive" -C "$dest" "${bins[@]}" || fail "cannot extract ${bins[*]} from $archive"
  fi
  echo "installed ${bins[*]} from $archive" >&2
  ;;
*)
  fail "install: '${INPUT_INSTALL}' is not release or source"
  ;;
esac
echo "$dest" >>"${GITHUB_PATH:-/dev/null}"
"$dest/assetpack" version >&2
