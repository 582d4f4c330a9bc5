#!/usr/bin/env bash
# Checks what `goreleaser release` (or `--snapshot`) wrote into DIST
# (default dist): every file checksums.txt lists has that sha256, there is
# one archive per platform of .goreleaser.yaml (with RELEASE_TARGETS=ci,
# the CI targets: linux/amd64, linux/arm64, windows/amd64), listed in
# checksums.txt, each has an SPDX SBOM that catalogues the Go modules
# compiled in, and the Homebrew cask and the Scoop manifest point at the
# archives with their checksums.
set -euo pipefail
dist="${1:-dist}"
cd "$dist"
fail() { echo "release: $*" >&2; exit 1; }
platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"
[ "${RELEASE_TARGETS:-all}" = ci ] && platforms="linux/amd64 linux/arm64 windows/amd64"
[ -f checksums.txt ] || fail "no checksums.txt in $dist"
sha256sum --check --strict --quiet checksums.txt || fail "checksums.txt does not match the files in $dist"
n=0
for p in $platforms; do
  os="${p%/*}" arch="${p#*/}"
  ext=tar.gz; [ "$os" = windows ] && ext=zip
  archive=$(ls assetpack_*_"${os}"_"${arch}.${ext}" 2>/dev/null | head -1)
  [ -n "$archive" ] || fail "no archive for $os/$arch in $dist"
  grep -q "  $archive\$" checksums.txt || fail "$archive is not listed in checksums.txt"
  sbom="$archive.sbom.json"
  [ -s "$sbom" ] || fail "no SBOM $sbom for $archive"
  python3 - "$sbom" "$archive" <<'PY' || fail "$sbom is not an SPDX document for $archive"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc.get("spdxVersion", "").startswith("SPDX-"), "spdxVersion"
names = {p.get("name") for p in doc.get("packages", [])}
# syft catalogs the Go modules compiled into the binary from its build info.
assert "github.com/google/go-containerregistry" in names, "go-containerregistry not catalogued"
assert "github.com/sigstore/cosign/v2" in names, "cosign not catalogued"
PY
  n=$((n + 1))
done
# The cask and the manifest GoReleaser pushes to the tap and the bucket
# (written to dist by every run, snapshots included).
cask=homebrew/Casks/assetpack.rb
[ -s "$cask" ] || fail "no Homebrew cask $dist/$cask"
# Its URLs spell the version as #{version}, the cask's own.
cask_version="$(sed -n 's/^  version "\(.*\)"$/\1/p' "$cask")"
[ -n "$cask_version" ] || fail "$cask has no version"
urls="$(sed -n 's/^ *url "\(.*\)"$/\1/p' "$cask" | sed "s/#{version}/$cask_version/g")"
for a in assetpack_*_linux_amd64.tar.gz assetpack_*_linux_arm64.tar.gz; do
  grep -q "/$a\$" <<<"$urls" || fail "$cask does not download $a (it has: $urls)"
  grep -q "sha256 \"$(sha256sum "$a" | cut -d' ' -f1)\"" "$cask" || fail "$cask lacks the sha256 of $a"
done
scoop=scoop/assetpack.json
[ -s "$scoop" ] || fail "no Scoop manifest $dist/$scoop"
python3 - "$scoop" <<'PY' || fail "$scoop does not install the windows/amd64 archive"
import glob, hashlib, json, sys
m = json.load(open(sys.argv[1]))
a = m["architecture"]["64bit"]
zip_ = glob.glob("assetpack_*_windows_amd64.zip")[0]
assert a["url"].endswith("/" + zip_), a["url"]
assert a["hash"] == hashlib.sha256(open(zip_, "rb").read()).hexdigest(), "hash"
assert a["bin"] == ["assetpack.exe"], a["bin"]
PY
echo "release: $n archives, each in checksums.txt and with an SPDX SBOM; the Homebrew cask and the Scoop manifest"
