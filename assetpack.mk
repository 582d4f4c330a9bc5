# assetpack.mk — Makefile targets for a content repository.
#
# Copy this file next to your Makefile and include it:
#
#     include assetpack.mk
#
# then run `make assets`, `make assets-push`, `make assets-sign`,
# `make assets-patch`. Set the variables below in your Makefile (before or
# after the include) or on the command line. With an assetpack.yaml in the
# same directory and ASSETPACK_DIR empty, assetpack reads its settings from
# that file instead (flags given here still win).

ASSETPACK ?= assetpack
# Directory to pack (empty: use assetpack.yaml).
ASSETPACK_DIR ?= site
# Directory inside the image (mount it with subPath: the same name).
ASSETPACK_PREFIX ?=
# Where `make assets` writes the image locally.
ASSETPACK_OUTPUT ?= oci:assetpack-out/assets
# REGISTRY/REPOSITORY:TAG for assets-push (several: separate with spaces).
ASSETPACK_IMAGE ?=
# cosign key file or KMS URI for assets-sign (empty: keyless).
ASSETPACK_KEY ?=
# Kubernetes output of assets-patch.
ASSETPACK_WORKLOAD ?=
ASSETPACK_CONTAINER ?=
ASSETPACK_MOUNT_PATH ?=
ASSETPACK_PATCH_FORMAT ?= strategic
ASSETPACK_PATCH_OUT ?= k8s/assets-patch.yaml
# Extra flags for every build (e.g. --compression zstd).
ASSETPACK_FLAGS ?=
# Where assets-push records the pushed digest reference for the next targets.
ASSETPACK_REF_FILE ?= .assetpack-ref

_assetpack_prefix = $(if $(ASSETPACK_PREFIX),--prefix $(ASSETPACK_PREFIX))
_assetpack_tags = $(foreach t,$(ASSETPACK_IMAGE),-t $(t))

.PHONY: assets assets-push assets-sign assets-patch assets-clean

assets: ## build the content into a local OCI layout; prints its digest reference
	$(ASSETPACK) build $(ASSETPACK_DIR) $(_assetpack_prefix) --output $(ASSETPACK_OUTPUT) $(ASSETPACK_FLAGS)

assets-push: ## build and push to ASSETPACK_IMAGE; records the digest in ASSETPACK_REF_FILE
	@test -n "$(ASSETPACK_IMAGE)$(if $(ASSETPACK_DIR),,yaml)" || { echo "assets-push: set ASSETPACK_IMAGE=REGISTRY/REPOSITORY:TAG" >&2; exit 2; }
	$(ASSETPACK) build $(ASSETPACK_DIR) $(_assetpack_prefix) $(_assetpack_tags) --push $(ASSETPACK_FLAGS) > $(ASSETPACK_REF_FILE).tmp
	@mv $(ASSETPACK_REF_FILE).tmp $(ASSETPACK_REF_FILE) && cat $(ASSETPACK_REF_FILE)

assets-sign: $(ASSETPACK_REF_FILE) ## sign the pushed digest (COSIGN_PASSWORD from the environment)
	$(ASSETPACK) sign $$(cat $(ASSETPACK_REF_FILE)) $(if $(ASSETPACK_KEY),--key $(ASSETPACK_KEY))

assets-patch: $(ASSETPACK_REF_FILE) ## write the Kubernetes patch that mounts the pushed digest
	@test -n "$(ASSETPACK_MOUNT_PATH)" || { echo "assets-patch: set ASSETPACK_MOUNT_PATH (and ASSETPACK_WORKLOAD, ASSETPACK_CONTAINER)" >&2; exit 2; }
	$(ASSETPACK) patch $$(cat $(ASSETPACK_REF_FILE)) --format $(ASSETPACK_PATCH_FORMAT) --output $(ASSETPACK_PATCH_OUT) \
	  $(if $(ASSETPACK_WORKLOAD),--workload $(ASSETPACK_WORKLOAD)) $(foreach c,$(ASSETPACK_CONTAINER),--container $(c)) \
	  --mount-path $(ASSETPACK_MOUNT_PATH) $(if $(ASSETPACK_PREFIX),--sub-path $(ASSETPACK_PREFIX))

$(ASSETPACK_REF_FILE):
	@echo "$(ASSETPACK_REF_FILE) is missing: run make assets-push first" >&2; exit 2

assets-clean: ## remove the local image and the recorded reference
	rm -rf $(patsubst oci:%,%,$(patsubst tar:%,%,$(ASSETPACK_OUTPUT))) $(ASSETPACK_REF_FILE)
