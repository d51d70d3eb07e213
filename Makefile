# moat's build. Two commands matter on a fresh machine:
#   make run    build moat and run `moat up` with the embedded default moat.toml
#   make test   install what the tests need (pinned Consul, test images, Chromium) and run every test
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
BIN       := bin
# The pinned Consul server for tests and test images (tools/consul/go.mod holds the pin).
CONSUL_GONOSUMDB := github.com/hashicorp/consul
GO_SOURCES := $(shell find . -name '*.go' -not -path './tools/*' -not -path './bin/*') go.mod go.sum
TEMPL     := $(BIN)/templ
TEST_TIMEOUT ?= 25m
TEST_FLAGS   ?=

.PHONY: build run test test-deps python3 test-go lint generate check-generated consul registry helm helm-check test-images chromium bench e2e clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: $(BIN)/moat ## build bin/moat

$(BIN)/moat: $(GO_SOURCES)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=true -o $@ .

run: build ## build and run `moat up` with the embedded default moat.toml (local images where official ones cannot be had)
	scripts/run.sh

# ---- tests ---------------------------------------------------------------

test: test-deps lint check-generated test-go fuzz-short ## everything the project needs to test itself

test-deps: consul registry test-images chromium python3 ## install what the tests need

# -parallel 4: the mesh-stack tests (t.Parallel) spend their time waiting on
# containers, so four at once on two cores shorten the root package by
# minutes; each has its own project, subnets and ports.
test-go:
	CI=$${CI:-} $(GO) test -count=1 -parallel 4 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$') 2>/dev/null); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate: $(TEMPL) ## regenerate templ files
	$(TEMPL) generate -path webui

# The templ generator, pinned in its own module (tools/templ) at the version of
# the runtime library in go.mod.
$(TEMPL): tools/templ/go.mod tools/templ/go.sum
	@mkdir -p $(BIN)
	cd tools/templ && $(GO) build -o ../../$@ github.com/a-h/templ/cmd/templ

check-generated: $(TEMPL) ## fail when generated templ files differ from their sources
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; cp -r webui go.mod $$tmp/; \
	  $(TEMPL) generate -path $$tmp/webui >/dev/null; \
	  for f in webui/*_templ.go; do cmp -s $$f $$tmp/$$f || \
	    { echo "$$f is out of date with its .templ source: run 'make generate' and commit"; exit 1; }; done

# Consul from its Go module, static, cached in bin/ and rebuilt only when the pin changes.
consul: $(BIN)/consul ## build the pinned Consul binary into bin/

$(BIN)/consul: tools/consul/go.mod tools/consul/go.sum
	@mkdir -p $(BIN)
	@echo "building Consul $$(grep -o 'hashicorp/consul v[0-9.]*' tools/consul/go.mod | cut -d' ' -f2) from its Go module (about 4-6 minutes, once)"
	cd tools/consul && GONOSUMDB=$(CONSUL_GONOSUMDB) CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../../$@ github.com/hashicorp/consul
	@touch $@

# The CNCF distribution registry from its Go module (tools/registry/go.mod
# holds the pin), for the pull tests: served on 127.0.0.1 by the tests
# themselves. Cached in bin/ and rebuilt only when the pin changes.
registry: $(BIN)/registry ## build the pinned image registry into bin/

$(BIN)/registry: tools/registry/go.mod tools/registry/go.sum
	@mkdir -p $(BIN)
	cd tools/registry && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../../$@ github.com/distribution/distribution/v3/cmd/registry
	@touch $@

# helm from its Go module (tools/helm/go.mod holds the pin), for the export
# tests that render the charts (export/kubernetes/helm_test.go, build tag
# helm). They need MOAT_TRINO_CHART and MOAT_CONSUL_CHART, the charts'
# folders (trinodb/charts at trino-1.42.2, hashicorp/consul-k8s at v1.6.10),
# which cannot be had here; like e2e, not part of make test.
helm: $(BIN)/helm ## build the pinned helm into bin/

helm-check: $(BIN)/helm ## render both charts with the export's values (needs MOAT_TRINO_CHART, MOAT_CONSUL_CHART)
	$(GO) test -tags helm -count=1 -run Helm -v ./export/kubernetes/

$(BIN)/helm: tools/helm/go.mod tools/helm/go.sum
	@mkdir -p $(BIN)
	cd tools/helm && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../../$@ helm.sh/helm/v3/cmd/helm
	@touch $@

$(BIN)/workload: $(shell find internal/workload -name '*.go')
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./internal/workload

$(BIN)/trinotestd: $(shell find trino/trinotest -name '*.go' 2>/dev/null)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./trino/trinotest/trinotestd

# Test images, FROM scratch, from the project's own static binaries: no registry.
test-images: $(BIN)/workload $(BIN)/consul $(BIN)/trinotestd notebook-image ## build the FROM-scratch test images
	@rm -rf $(BIN)/images && mkdir -p $(BIN)/images/{workload,consul/tmp,consul/consul-dirs/data,consul/consul-dirs/config,trinotest/etc,trinotest/data}
	ln -f $(BIN)/workload $(BIN)/images/workload/workload
	ln -f $(BIN)/consul $(BIN)/images/consul/consul
	ln -f $(BIN)/trinotestd $(BIN)/images/trinotest/trinotestd
	chmod 1777 $(BIN)/images/consul/tmp
	docker build -q -t moat-test/workload:dev -f testdata/images/workload/Dockerfile $(BIN)/images/workload
	docker build -q -t moat-test/consul:dev -f testdata/images/consul/Dockerfile $(BIN)/images/consul
	docker build -q -t moat-test/trinotest:dev -f testdata/images/trinotest/Dockerfile $(BIN)/images/trinotest

# A real Jupyter Notebook server from Debian bookworm packages (mmdebstrap |
# docker import, no registry). Rebuilt only when testdata/images/notebook
# changes: the recipe's hash is the image's label dev.moat.recipe (and is kept
# in bin/notebook-image.recipe); mmdebstrap is installed with apt when missing.
.PHONY: notebook-image
notebook-image: ## build moat-test/notebook:dev from Debian packages (a minute or two, once)
	testdata/images/notebook/build.sh $(BIN)/notebook-image.recipe

# Headless Chromium for the dashboard and report screenshot tests (Debian package).
chromium: ## install Chromium when missing
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

# python3 runs the sample notebook's code in a test (Debian package).
python3:
	@command -v python3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }

# ---- fuzzing ---------------------------------------------------------------
# Go native fuzzing, one target at a time (package:FuzzName). The seed corpora
# also run as ordinary tests in `go test`; a crash found here is written to
# <package>/testdata/fuzz/<FuzzName>/ and replays there as a test.
FUZZTIME ?= 60s
FUZZ_TARGETS := appliance/config:FuzzParse trino:FuzzRules report:FuzzRender webui:FuzzHandler

.PHONY: fuzz fuzz-short

fuzz: ## run every fuzz target for FUZZTIME each, default 60s
	@failed=""; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) ./$$pkg"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg || failed="$$failed $$name"; done; \
	  if [ -n "$$failed" ]; then echo "fuzz targets that failed:$$failed"; exit 1; fi

fuzz-short: ## every fuzz target for 500 inputs each (part of make test; a count, not a time: with -fuzztime in seconds Go can fail a slow target with "context deadline exceeded" at the end)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=500x

# ---- the fault matrix (issue 12) -------------------------------------------
# Every TestChaos* test of the root package, on the real Docker Engine. `make
# test` runs them short (MOAT_CHAOS unset: 1 fault per kind); `make chaos`
# runs them in full and prints each fault's time to recovery (-v).
MOAT_CHAOS ?= full

.PHONY: chaos

chaos: test-deps build ## the fault matrix in full (MOAT_CHAOS=full: 20 kills per container kind), recovery times printed
	MOAT_CHAOS=$(MOAT_CHAOS) CI=$${CI:-} $(GO) test -count=1 -v -timeout 90m -run 'Chaos' .

# ---- benchmarks and the real-image path ----------------------------------

bench: test-deps build ## benchmarks, ratios printed side by side
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

e2e: build ## the same scenario on the official Trino, Consul, Envoy and Jupyter images (needs them locally)
	$(GO) test -tags e2e -count=1 -timeout 60m -run E2E .

clean: ## remove build output (keeps the cached Consul and registry binaries)
	find $(BIN) -mindepth 1 -maxdepth 1 -not -name consul -not -name registry -exec rm -rf {} +
