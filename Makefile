# assetpack — build, test and benchmark targets. `make help` lists them.
SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
CLI := github.com/assetpack/assetpack/cmd/assetpack/cli
LDFLAGS := -s -w -X $(CLI).version=$(VERSION) -X $(CLI).commit=$(COMMIT) -X $(CLI).date=$(DATE)
BIN := bin/assetpack
SIGSTORE_BIN := bin/assetpack-sigstore

.PHONY: help build install test unit kube-validate e2e e2e-tools lint fmt bench bench-data bench-compare bench-model20 bench-cri bench-resume fuzz docs release-check release-snapshot release-image clean
FUZZTIME ?= 30s

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## build bin/assetpack (-tags lite: no cosign, sigstore, KMS SDK or kyaml) and bin/assetpack-sigstore (the default build it runs to sign and verify), as a release does
	CGO_ENABLED=0 $(GO) build -tags lite -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/assetpack
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(SIGSTORE_BIN) ./cmd/assetpack

# go install would name the binary after its package directory: both are
# built with go build -o into GOBIN instead.
install: ## install assetpack (lite) and assetpack-sigstore, as a release ships them, into $(go env GOBIN), else $(go env GOPATH)/bin
	@set -e; gobin="$$($(GO) env GOBIN)"; gobin="$${gobin:-$$($(GO) env GOPATH)/bin}"; exe="$$($(GO) env GOEXE)"; \
	  CGO_ENABLED=0 $(GO) build -tags lite -trimpath -ldflags '$(LDFLAGS)' -o "$$gobin/assetpack$$exe" ./cmd/assetpack; \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o "$$gobin/assetpack-sigstore$$exe" ./cmd/assetpack; \
	  echo "installed $$gobin/assetpack$$exe and $$gobin/assetpack-sigstore$$exe"

test: lint unit kube-validate e2e release-check ## everything CI runs (.ci/run): lint, unit tests, API server dry-runs, end-to-end tests, a snapshot release for linux/amd64, linux/arm64 and windows/amd64 (installs their tools)

lint: ## go vet, gofmt, go mod tidy -diff (a release runs tidy first) and goreleaser check (installs goreleaser v2.15.1, cached)
	$(GO) mod tidy -diff
	@# goreleaser check exits 0 on deprecated keys (brews, ...): fail on its warning too.
	eval "$$(hack/install-release-tools.sh --print-path)" && out="$$(goreleaser check 2>&1)" && \
	  ! grep -iE 'deprecat|phased out' <<<"$$out" || { echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags lite ./cmd/...
	$(GO) vet -tags e2e ./e2e/...
	cd hack/kubevalidate && $(GO) mod tidy -diff && $(GO) vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

unit: ## hermetic tests (no network, no external tools)
	$(GO) test -count=1 ./...
	@# The release's assetpack is built with -tags lite: run the CLI's tests on it too (it
	@# hands what signs or verifies to assetpack-sigstore, which they build).
	$(GO) test -count=1 -tags lite ./cmd/assetpack/

kube-validate: ## the Kubernetes output (warm-up DaemonSet, Pod, serving examples) as server-side dry-runs on a real kube-apiserver 1.36 + etcd on 127.0.0.1 (built and cached by hack/install-kube-tools.sh)
	eval "$$(hack/install-kube-tools.sh --print-path)" && cd hack/kubevalidate && ASSETPACK_REQUIRE_APISERVER=1 $(GO) test -count=1 ./...

e2e-tools: ## install the third-party tools the e2e tests use (skipped when present)
	hack/install-e2e-tools.sh

e2e: ## end-to-end tests: real binary, read back with umoci and skopeo
	eval "$$(hack/install-e2e-tools.sh --print-path)" && $(GO) test -count=1 -timeout 40m -tags e2e ./e2e/...

fmt: ## format the code
	gofmt -w .

bench: ## Go benchmarks (throughput and allocations are reported, not asserted)
	$(GO) test -run '^$$' -bench . -benchmem ./builder/

BENCH_DATA ?= /var/tmp/assetpack-bench
BENCH_SETS ?= opa,site,model
BENCH_RUNS ?= 3
BENCH_PEERS ?= crane,oras,imgpkg
BENCH_PROFILES ?= local,shared,per-connection,fast
BENCH_FLAGS ?=
BENCH_MARKDOWN ?=
BENCH_CRI_RUNS ?= 3

bench-data: ## generate the benchmark datasets into BENCH_DATA (fixed seeds; skipped when present)
	@set -e; for s in $$(echo $(BENCH_SETS) | tr , ' '); do \
	  if [ ! -d "$(BENCH_DATA)/$$s" ]; then \
	    echo "generating $$s in $(BENCH_DATA)/$$s"; rm -rf "$(BENCH_DATA)/$$s.tmp"; \
	    $(GO) run ./bench/gen -set $$s -out "$(BENCH_DATA)/$$s.tmp" && mv "$(BENCH_DATA)/$$s.tmp" "$(BENCH_DATA)/$$s"; \
	  fi; \
	done

bench-compare: build bench-data ## assetpack vs crane, oras, imgpkg and the physical floors, local and through shaped links (BENCH_PROFILES; BENCH_MARKDOWN=docs/benchmarks.md writes the tables)
	eval "$$(hack/install-bench-tools.sh --print-path)" && $(GO) run ./bench/compare -data "$(BENCH_DATA)" -sets "$(BENCH_SETS)" -runs $(BENCH_RUNS) -peers "$(BENCH_PEERS)" -profiles "$(BENCH_PROFILES)" $(BENCH_FLAGS) -assetpack $(BIN) $(if $(BENCH_MARKDOWN),-markdown $(BENCH_MARKDOWN))

bench-resume: ## push a 10 GiB model through the quirk proxy, cut at 50% of its largest blob: bytes sent and peak RSS (about 21 GiB of disk, freed after; docs/benchmarks.md)
	eval "$$(hack/install-e2e-tools.sh --print-path)" && $(GO) test -count=1 -timeout 50m -tags e2e -run '^$$' -bench BigModelResume -benchtime 1x ./e2e/

BENCH_SHARD_SIZE ?= 1073741824

bench-model20: build ## the 20-shard model (20 GiB; BENCH_SHARD_SIZE=16777216 for a 320 MiB smoke run) built and pushed with and without --modelpack: time vs one sha256 pass, peak RSS (target ≤ 100 MiB)
	@set -e; d="$(BENCH_DATA)/model20-$(BENCH_SHARD_SIZE)"; if [ ! -d "$$d" ]; then \
	  echo "generating model20 ($(BENCH_SHARD_SIZE)-byte shards) in $$d"; rm -rf "$$d.tmp"; \
	  $(GO) run ./bench/gen -set model20 -shard-size $(BENCH_SHARD_SIZE) -out "$$d.tmp" && mv "$$d.tmp" "$$d"; fi
	eval "$$(hack/install-bench-tools.sh --print-path)" && $(GO) run ./bench/compare -data "$(BENCH_DATA)" -sets "model20-$(BENCH_SHARD_SIZE)" -runs 1 -peers "" -light -modelpack -assetpack $(BIN)

bench-cri: ## containerd CRI pull + mount + read of the model, split vs one layer (root; BENCH_DATA's model when generated, else 2x128 MiB)
	eval "$$(hack/install-e2e-tools.sh --print-path)" && ASSETPACK_BENCH_MODEL=$$(test -d "$(BENCH_DATA)/model" && echo "$(BENCH_DATA)/model") \
	  $(GO) test -tags e2e -run '^$$' -bench BenchmarkContainerdPullAndMount -benchtime $(BENCH_CRI_RUNS)x ./e2e/

fuzz: ## run every fuzz target for FUZZTIME (default 30s); the seed corpora run in make unit
	@set -e; for pkg in ./builder ./publish ./kube ./config; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

docs: ## regenerate the CLI reference in docs/cli (a test fails when it is stale)
	ASSETPACK_CONFIG= ASSETPACK_DEBUG= $(GO) run ./hack/gendocs docs/cli

release-check: ## a snapshot of linux/amd64, linux/arm64 and windows/amd64 (archives, checksums, SBOMs, cask, Scoop manifest), checked, assetpack's own image packed from it, and the README's install paths run (installs goreleaser v2.15.1 and syft v1.57.1, cached)
	eval "$$(hack/install-release-tools.sh --print-path --with-sbom)" && \
	  RELEASE_TARGETS=ci goreleaser release --snapshot --clean --skip=sign,publish
	RELEASE_TARGETS=ci hack/check-release.sh dist
	@# The image is packed, and the install paths run, by the linux/amd64 binary.
	@if [ "$$($(GO) env GOHOSTOS)/$$($(GO) env GOHOSTARCH)" = linux/amd64 ]; then \
	  hack/release-image.sh dist && hack/check-install.sh dist; \
	else echo "release-check: the release image and the install paths run the linux/amd64 binary: skipped on $$($(GO) env GOHOSTOS)/$$($(GO) env GOHOSTARCH)"; fi

release-snapshot: ## a snapshot of the whole release (every target, archives, checksums, SBOMs, cask, Scoop manifest; no signing or publishing), assetpack's own image in dist/image, the install paths; ~22 min cold on 2 cores
	eval "$$(hack/install-release-tools.sh --print-path --with-sbom)" && goreleaser release --snapshot --clean --skip=sign,publish
	hack/check-release.sh dist
	hack/release-image.sh dist
	hack/check-install.sh dist

RELEASE_IMAGE_FLAGS ?=
release-image: ## pack dist's linux/amd64 and linux/arm64 assetpack and assetpack-sigstore into assetpack's own image with assetpack (--platform-dir); RELEASE_IMAGE_FLAGS go to assetpack build (default: the layout dist/image)
	hack/release-image.sh dist $(RELEASE_IMAGE_FLAGS)

clean: ## remove build outputs
	rm -rf bin dist assetpack-out
