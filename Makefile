# Thin wrappers over go and the tools; see README.md.
GO      ?= go
PKGS    ?= ./...
RUN_DIR ?= runs/demo

.PHONY: build test lint vet bench deps images demo demo-nodedup tidy fuzz clean

build:
	$(GO) build ./...
	$(GO) build -o bin/edload ./cmd/edload

# The README's test command; .ci/run calls it. -race everywhere, one timeout.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint: vet
	@command -v golangci-lint >/dev/null 2>&1 || { echo "golangci-lint not installed; ran go vet only"; exit 0; }; golangci-lint run

vet:
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Debian packages for the process provider (later issues); idempotent.
deps:
	@echo "embedded default needs nothing beyond Go"

images:
	@echo "no local images are needed by the embedded default yet"

# The main job: 20 s of open-loop load through the shop on embedded Kafka,
# with the duplicate/delay fault on and inbox dedup on. Exits 0 when every
# invariant held.
demo:
	$(GO) run ./cmd/edload run --duration 20s --rate 100 --fault duplicate --dedup=true --out $(RUN_DIR)

# The same run with dedup off: the duplicate-effect invariant breaks, exit 1.
demo-nodedup:
	$(GO) run ./cmd/edload run --duration 20s --rate 100 --fault duplicate --dedup=false --out runs/demo-nodedup

tidy:
	$(GO) mod tidy

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadJSONL -fuzztime 30s ./harness/history/

clean:
	rm -rf bin runs
