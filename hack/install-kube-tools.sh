#!/usr/bin/env bash
# Installs a real kube-apiserver and the etcd it stores into, for the
# server-side dry-run of the Kubernetes manifests assetpack writes and ships
# (make kube-validate). Both are built from source through the Go module
# proxy, cached by version in
# ${ASSETPACK_TOOLS_DIR:-~/.cache/assetpack/tools}/kube-apiserver-VERSION/bin.
# A second run costs milliseconds; the first one builds about 2,000
# packages (5 min 20 s on 2 cores with a warm Go build cache; longer cold).
#
# Why a generated module: k8s.io/kubernetes replaces its 33 staging modules
# (k8s.io/api, k8s.io/apiserver, ...) with ./staging/src/k8s.io/*, which
# the module proxy's zip does not contain, so neither `go install
# k8s.io/kubernetes/cmd/kube-apiserver@VERSION` nor building the downloaded
# module works. The generated main module requires k8s.io/kubernetes and
# points each staging module at its published tag (v0.MINOR.PATCH), which
# is the code the release was built from. etcd is the version Kubernetes'
# own go.mod pins (go.etcd.io/etcd/server/v3), started through its etcdmain
# package exactly as the etcd binary's main does.
#
# Prints `export ASSETPACK_KUBE_TOOLS=DIR` on stdout with --print-path.
set -euo pipefail

KUBE_VERSION=v1.36.3

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

print_path=false
if [ "${1:-}" = "--print-path" ]; then print_path=true; fi

dir="$TOOLS_DIR/kube-apiserver-$KUBE_VERSION/bin"
if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/etcd" ]; then
  log "building kube-apiserver $KUBE_VERSION and its etcd from source (cached in $dir; minutes: about 2,000 packages)"
  mkdir -p "$TOOLS_DIR"
  src="$(mktemp -d "$TOOLS_DIR/.kube-src.XXXXXX")"
  trap 'rm -rf "$src"' EXIT
  gomod="$(cd "$src" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -n "$gomod" ] || { log "cannot download k8s.io/kubernetes@$KUBE_VERSION through the module proxy"; exit 1; }
  staging="v0.${KUBE_VERSION#v1.}"
  etcd="$(sed -n 's/^[[:space:]]*go.etcd.io\/etcd\/server\/v3 \(v[^ ]*\).*/\1/p' "$gomod")"
  [ -n "$etcd" ] || { log "k8s.io/kubernetes@$KUBE_VERSION's go.mod names no go.etcd.io/etcd/server/v3"; exit 1; }
  {
    echo "module assetpack.invalid/kubetools"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $KUBE_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $etcd"
    echo ")"
    echo
    echo "replace ("
    sed -n 's/^[[:space:]]*\(k8s.io\/[a-z0-9-]*\) => \.\/staging\/src\/.*$/\1/p' "$gomod" |
      while read -r m; do echo "	$m => $m $staging"; done
    echo ")"
  } >"$src/go.mod"
  mkdir -p "$src/etcd"
  cat >"$src/etcd/main.go" <<'EOF'
// Command etcd is etcd's own main: etcdmain.Main with the process arguments.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
  (
    cd "$src"
    go mod tidy >&2
    CGO_ENABLED=0 go build -trimpath -o "$src/out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
    CGO_ENABLED=0 go build -trimpath -o "$src/out/etcd" ./etcd >&2
  ) || { log "building kube-apiserver $KUBE_VERSION / etcd $etcd failed"; exit 1; }
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$src/out" "$dir"
fi
log "kube tool: kube-apiserver $KUBE_VERSION, etcd $("$dir/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
if $print_path; then
  echo "export ASSETPACK_KUBE_TOOLS=$dir"
fi
