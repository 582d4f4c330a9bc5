#!/usr/bin/env bash
# Runs `assetpack build` from the GitHub Action's inputs. assetpack itself
# appends digest=, ref= and tags= to $GITHUB_OUTPUT and a summary (digest,
# size, bytes uploaded and skipped, the patch) to $GITHUB_STEP_SUMMARY; this
# script adds patch=.
set -euo pipefail
args=(build)
[ -n "${INPUT_PATH:-}" ] && args+=("$INPUT_PATH")
[ -n "${INPUT_PREFIX:-}" ] && args+=(--prefix "$INPUT_PREFIX")
[ -n "${INPUT_PLATFORMS:-}" ] && args+=(--platform "$INPUT_PLATFORMS")
[ -n "${INPUT_COMPRESSION:-}" ] && args+=(--compression "$INPUT_COMPRESSION")
# labels and annotations: one key=value per line (values may hold commas).
trim() { local v="$1"; v="${v#"${v%%[![:space:]]*}"}"; echo "${v%"${v##*[![:space:]]}"}"; }
while IFS= read -r kv; do
  kv="$(trim "$kv")"
  if [ -n "$kv" ]; then args+=(--label "$kv"); fi
done <<<"${INPUT_LABELS:-}"
while IFS= read -r kv; do
  kv="$(trim "$kv")"
  if [ -n "$kv" ]; then args+=(--annotation "$kv"); fi
done <<<"${INPUT_ANNOTATIONS:-}"
# sbom: passed on only to an assetpack whose build has --sbom.
if [ "${INPUT_SBOM:-false}" = "true" ]; then
  help="$(assetpack build --help 2>&1 || true)"
  if [[ "$help" != *--sbom* ]]; then
    echo "::error::sbom: true needs an assetpack whose build has --sbom; $(assetpack version 2>&1 | head -1) has not: pick a newer version, or drop sbom" >&2
    exit 2
  fi
  args+=(--sbom)
fi
# The layer cache that the action's actions/cache step restores and saves.
if [ "${INPUT_CACHE:-true}" = "true" ] && [ -n "${RUNNER_TEMP:-}" ]; then
  export ASSETPACK_CACHE_DIR="$RUNNER_TEMP/assetpack-layers"
fi
if [ "${INPUT_PUSH:-false}" = "true" ]; then
  if [ -z "${INPUT_IMAGE:-}" ]; then echo "::error::push: true needs the 'image' input" >&2; exit 2; fi
  while IFS= read -r tag; do
    tag="$(echo "$tag" | xargs)"
    [ -z "$tag" ] && continue
    case "$tag" in *[:/]*) args+=(-t "$tag") ;; *) args+=(-t "$INPUT_IMAGE:$tag") ;; esac
  done < <(echo "${INPUT_TAGS:-latest}" | tr ',' '\n')
  args+=(--push)
  # ghcr.io accepts the workflow token (assetpack reads GITHUB_TOKEN for ghcr.io only).
  case "$INPUT_IMAGE" in ghcr.io/*) export GITHUB_TOKEN="${GITHUB_TOKEN:-${ACTION_TOKEN:-}}" ;; esac
  if [ "${INPUT_SIGN:-false}" = "true" ]; then
    args+=(--sign --signature-format "${INPUT_SIGNATURE_FORMAT:-bundle}")
    [ -n "${INPUT_KEY:-}" ] && args+=(--key "$INPUT_KEY")
  fi
  if [ -n "${INPUT_PATCH_WORKLOAD:-}" ] || [ -n "${INPUT_PATCH_MOUNT_PATH:-}" ]; then
    args+=(--workload "$INPUT_PATCH_WORKLOAD" --mount-path "$INPUT_PATCH_MOUNT_PATH")
    for c in $(echo "${INPUT_PATCH_CONTAINER:-}" | tr ',' ' '); do args+=(--container "$c"); done
    if [ "${INPUT_PATCH_FORMAT:-strategic}" = "kustomize" ]; then
      args+=(--kustomize "$INPUT_PATCH_OUTPUT")
    else
      args+=(--patch-out "$INPUT_PATCH_OUTPUT" --patch-format "${INPUT_PATCH_FORMAT:-strategic}")
    fi
    patch="$INPUT_PATCH_OUTPUT"
  fi
elif [ "${INPUT_SIGN:-false}" = "true" ]; then
  echo "::error::sign: true needs push: true" >&2; exit 2
fi
assetpack "${args[@]}"
if [ -n "${patch:-}" ] && [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "patch=$patch" >> "$GITHUB_OUTPUT"
fi
