#!/usr/bin/env bash
# Checks what `goreleaser release` (or `--snapshot`) wrote into DIST
# (default dist): every file checksums.txt lists has that sha256, there is
# one archive per platform of .goreleaser.yaml, listed in checksums.txt, and
# each has an SPDX SBOM that catalogues the Go modules compiled in.
set -euo pipefail
dist="${1:-dist}"
cd "$dist"
fail() { echo "release: $*" >&2; exit 1; }
[ -f checksums.txt ] || fail "no checksums.txt in $dist"
sha256sum --check --strict --quiet checksums.txt || fail "checksums.txt does not match the files in $dist"
n=0
for os in linux darwin windows; do
  for arch in amd64 arm64; do
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
done
echo "release: $n archives, each in checksums.txt and with an SPDX SBOM"
