# Shared by the hack/install-*.sh scripts (sourced, not run).

TOOLS_DIR="${ASSETPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/assetpack/tools}"

log() { echo "$@" >&2; }

# apt_install PACKAGE...: installs the Debian packages that are missing
# (with sudo when not root); nothing happens when all are present.
apt_install() {
  local missing=() p sudo=""
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
