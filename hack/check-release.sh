#!/usr/bin/env bash
# Checks what `goreleaser release` (or `--snapshot`) wrote into DIST
# (default dist): every file checksums.txt lists has that sha256, there is
# one archive per platform of .goreleaser.yaml (with RELEASE_TARGETS=ci,
# the CI targets: linux/amd64, linux/arm64, windows/amd64), listed in
# checksums.txt, each has an SPDX SBOM that catalogues the Go modules
# compiled in, and the Homebrew cask and the Scoop manifest point at the
# archives with their checksums.
#
# Each archive holds two builds of ./cmd/assetpack: assetpack, built with
# -tags lite (no cosign, sigstore, KMS SDK or kyaml), and assetpack-sigstore,
# the default build, which assetpack runs for the commands that sign or
# verify. `go version -m` must show that split for every archive; the cask
# and the Scoop manifest must install both. On a linux/amd64 machine the
# linux/amd64 pair is also run: assetpack generate-key-pair (a command only
# the companion runs) succeeds with assetpack-sigstore beside it, and fails
# with exit 1 and an error naming assetpack-sigstore without it; both say
# the same version.
set -euo pipefail
dist="${1:-dist}"
cd "$dist"
fail() { echo "release: $*" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
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
  # Both binaries, extracted for go version -m (and, below, to be run).
  exe=""
  [ "$os" = windows ] && exe=.exe
  x="$tmp/${os}_$arch"
  python3 - "$archive" "$x" "assetpack$exe" "assetpack-sigstore$exe" <<'PY' || fail "$archive does not hold assetpack$exe and assetpack-sigstore$exe"
import os, sys, tarfile, zipfile
archive, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(dest)
if archive.endswith(".zip"):
    z = zipfile.ZipFile(archive)
    have, read = z.namelist(), lambda n: z.read(n)
else:
    t = tarfile.open(archive)
    have, read = t.getnames(), lambda n: t.extractfile(n).read()
missing = [n for n in names if n not in have]
if missing:
    sys.exit(f"{archive} holds {sorted(have)}: no {', '.join(missing)}")
for n in names:
    with open(os.path.join(dest, n), "wb") as f:
        f.write(read(n))
    os.chmod(os.path.join(dest, n), 0o755)
PY
  info="$(go version -m "$x/assetpack$exe")" || fail "go version -m cannot read assetpack$exe of $archive"
  grep -Eq $'^\tbuild\t-tags=([^ ]*,)?lite(,|$)' <<<"$info" || fail "assetpack$exe of $archive is not built with -tags lite (go version -m shows no -tags=lite)"
  ! grep -q $'^\tdep\tgithub.com/sigstore/' <<<"$info" || fail "assetpack$exe of $archive links sigstore modules: the lite build must not"
  info="$(go version -m "$x/assetpack-sigstore$exe")" || fail "go version -m cannot read assetpack-sigstore$exe of $archive"
  ! grep -Eq $'^\tbuild\t-tags=([^ ]*,)?lite(,|$)' <<<"$info" || fail "assetpack-sigstore$exe of $archive is built with -tags lite: it must be the default build"
  grep -q $'^\tdep\tgithub.com/sigstore/cosign/v2\t' <<<"$info" || fail "assetpack-sigstore$exe of $archive does not link cosign"
  n=$((n + 1))
done

# The linux/amd64 pair, run where it can be: an environment of its own
# (no ASSETPACK_SIGSTORE, a PATH without the companion), so that
# assetpack can only find assetpack-sigstore beside itself.
if [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ]; then
  x="$tmp/linux_amd64"
  mkdir "$tmp/empty" "$tmp/home" "$tmp/keys" "$tmp/alone" "$tmp/alone/keys"
  isolated() { env -i PATH="$tmp/empty" HOME="$tmp/home" COSIGN_PASSWORD=x "$@"; }
  (cd "$tmp/keys" && isolated "$x/assetpack" generate-key-pair >"$tmp/out" 2>&1) ||
    fail "assetpack generate-key-pair of the linux/amd64 archive, with assetpack-sigstore beside it, failed: $(cat "$tmp/out")"
  if ! grep -qs "BEGIN ENCRYPTED SIGSTORE PRIVATE KEY" "$tmp/keys/cosign.key" || ! grep -qs "BEGIN PUBLIC KEY" "$tmp/keys/cosign.pub"; then
    fail "assetpack generate-key-pair of the linux/amd64 archive wrote no cosign.key and cosign.pub: $(cat "$tmp/out")"
  fi
  # Without the companion: exit 1, and the error says what is missing.
  cp "$x/assetpack" "$tmp/alone/"
  code=0
  (cd "$tmp/alone/keys" && isolated "$tmp/alone/assetpack" generate-key-pair >"$tmp/out" 2>&1) || code=$?
  if [ "$code" != 1 ] || ! grep -q "assetpack-sigstore" "$tmp/out"; then
    fail "assetpack generate-key-pair of the linux/amd64 archive without assetpack-sigstore: exit $code, want 1 and an error naming assetpack-sigstore: $(cat "$tmp/out")"
  fi
  [ ! -e "$tmp/alone/keys/cosign.key" ] || fail "assetpack generate-key-pair of the linux/amd64 archive wrote cosign.key without assetpack-sigstore"
  lite_version="$(isolated "$x/assetpack" version)" || fail "assetpack version of the linux/amd64 archive failed"
  full_version="$(isolated "$x/assetpack-sigstore" version)" || fail "assetpack-sigstore version of the linux/amd64 archive failed"
  [ "$lite_version" = "$full_version" ] ||
    fail "the linux/amd64 archive's binaries say different versions: assetpack: $lite_version; assetpack-sigstore: $full_version"
  echo "release: linux/amd64: assetpack hands generate-key-pair to assetpack-sigstore beside it, fails naming it when it is absent; both say: $lite_version"
else
  echo "release: the linux/amd64 binaries are not run on $(uname -s)/$(uname -m)"
fi
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
for b in assetpack assetpack-sigstore; do
  grep -q "^ *binary \"$b\"$" "$cask" || fail "$cask does not install $b (its binary stanzas: $(grep '^ *binary ' "$cask" | tr -s ' ' | tr '\n' ';'))"
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
assert sorted(a["bin"]) == ["assetpack-sigstore.exe", "assetpack.exe"], a["bin"]
PY
echo "release: $n archives, each in checksums.txt, with an SPDX SBOM, assetpack (lite) and assetpack-sigstore; the Homebrew cask and the Scoop manifest install both"
