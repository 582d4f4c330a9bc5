#!/usr/bin/env bash
# Installs the third-party tools the end-to-end tests run against, from
# Debian packages (and, for later suites, `go install` into a cache keyed by
# version). Anything already installed at the wanted version is skipped, so a
# second run costs a few milliseconds.
set -euo pipefail

# Debian packages: name -> why
APT_PACKAGES=(
  skopeo # reads our OCI layouts and archives back (oci:, oci-archive:)
  umoci  # unpacks our layouts to a root filesystem we compare with the source
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for p in "${APT_PACKAGES[@]}"; do
  echo "e2e tool: $p $(dpkg-query -W -f='${Version}' "$p")" >&2
done
