# Thin wrappers over go and the tools; see README.md.
GO      ?= go
PKGS    ?= ./...
RUN_DIR ?= runs/demo

.PHONY: build test lint vet bench deps images demo demo-nodedup tidy fuzz clean

build:
	$(GO) build ./...
	$(GO) build -o bin/edload ./cmd/edload

# The README's test command; .ci/run calls it. It installs what the tests
# need first (deps, images: both idempotent and quick when already done),
# so it works on a fresh machine. -race everywhere, one timeout; lint
# (vet, then golangci-lint with function length and complexity limits)
# first, so a failing style check fails CI like a failing test.
test: deps images lint
	$(GO) test -race -count=1 -timeout 25m $(PKGS)
	cd examples/bank && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 5m ./...

# golangci-lint v2, built from the Go module proxy on first use.
GOLANGCI_VERSION := v2.15.0
GOLANGCI := $(shell $(GO) env GOPATH)/bin/golangci-lint
lint: vet
	@[ -x $(GOLANGCI) ] && $(GOLANGCI) version 2>/dev/null | grep -q '$(patsubst v%,%,$(GOLANGCI_VERSION))' || \
		GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(GOLANGCI) run ./...
	cd examples/bank && $(GOLANGCI) run ./...

vet:
	$(GO) vet $(PKGS)

# The benchmarks' outside baselines: redis-benchmark comes with deps'
# redis-server; natscli (`nats bench`) is built from the Go module proxy
# into bin/ at a pinned version and put first on PATH.
NATSCLI_VERSION := v0.5.0
bin/nats:
	GOFLAGS= GOBIN=$(CURDIR)/bin $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

bench: deps bin/nats
	PATH=$(CURDIR)/bin:$$PATH $(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Debian packages the process provider runs and `make images` needs;
# installs only what is missing. Services are never started by it: the
# tests run their own instances on free loopback ports.
DEB_PACKAGES := rabbitmq-server redis-server postgresql nats-server debootstrap
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; else \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Local container images, built offline from Debian packages and edkit's own
# binaries; skips images whose recipe did not change.
images:
	harness/env/container/images/build.sh

# The main job: 20 s of open-loop load through the shop on embedded Kafka,
# with the duplicate/delay fault on and inbox dedup on. Exits 0 when every
# invariant held.
# The run directory is replaced: edload refuses to overwrite a run unasked.
demo:
	@rm -rf $(RUN_DIR)
	$(GO) run ./cmd/edload run --duration 20s --rate 100 --fault duplicate --dedup=true --out $(RUN_DIR)

# The same run with dedup off: the duplicate-effect invariant breaks, exit 1.
demo-nodedup:
	@$(GO) build -o bin/edload ./cmd/edload
	bin/edload run --duration 20s --rate 100 --fault duplicate --dedup=false --replace --out runs/demo-nodedup; \
	code=$$?; echo "edload exited $$code"; exit $$code

# -e: plain tidy stops on an ambiguous genproto import inside docker's own
# test dependencies, which edkit never builds.
tidy:
	$(GO) mod tidy -e

# Every native fuzz test in the repository, FUZZTIME each.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz: $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin runs
