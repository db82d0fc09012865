# kwitness — `make` alone prints this help.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/.bin

# Pinned code-generation tools, installed into .bin by `make tools`.
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION := v2.33.0

DEMO_FOR ?= 2m
FUZZTIME ?= 20s
BENCHTIME ?= 1x
EVAL_FOR ?=

.DEFAULT_GOAL := help
.PHONY: help demo build test race lint generate check-generated tools fuzz bench eval

help: ## print this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

demo: ## run kwitness against an embedded 3-broker Kafka (kfake) for DEMO_FOR (default 2m)
	$(GO) run ./cmd/kwitness demo --for $(DEMO_FOR)

build: ## build bin/kwitness
	$(GO) build -o bin/kwitness ./cmd/kwitness

test: ## go vet, gofmt check and all tests with the race detector
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m ./...

race: test ## alias of test

eval: ## score detection on scripted scenarios with ground truth (~13 min; EVAL_FOR shortens the e2e run); writes docs/detection.md
	@status=0; \
	KWITNESS_EVAL_OUT=$(CURDIR)/docs/detection.md $(GO) test -count=1 -timeout 20m -run '^TestEvalTrace$$' ./detect || status=1; \
	KWITNESS_EVAL_OUT=$(CURDIR)/docs/detection.md KWITNESS_EVAL_FOR=$(EVAL_FOR) \
	  $(GO) test -tags eval -count=1 -timeout 40m -v -run '^TestEvalE2E$$' ./cmd/kwitness || status=1; \
	exit $$status

lint: tools ## buf lint (STANDARD) and go vet
	$(BIN)/buf lint
	$(GO) vet ./...

tools: ## install the pinned protobuf tools into .bin
	@mkdir -p $(BIN)
	@[ -x $(BIN)/buf ] || GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@[ -x $(BIN)/protoc-gen-go ] || GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@[ -x $(BIN)/protoc-gen-go-grpc ] || GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@[ -x $(BIN)/protoc-gen-grpc-gateway ] || GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	@[ -x $(BIN)/protoc-gen-openapiv2 ] || GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

generate: tools ## regenerate protobuf, gRPC, gateway and OpenAPI code
	$(BIN)/buf lint
	$(BIN)/buf generate

check-generated: generate ## fail if committed generated code differs from a fresh generation
	@git diff --exit-code -- proto api/openapi || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- proto api/openapi); \
	  if [ -n "$$untracked" ]; then echo "generated files not committed: $$untracked"; exit 1; fi

fuzz: ## run every fuzz target for FUZZTIME each (default 20s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg; \
	  done; done

bench: ## run the benchmark suite, several minutes on 2 cores, BenchmarkSidecar alone 5 (see docs/benchmarks.md); output also in .bin/bench.txt
	@mkdir -p $(BIN)
	set -o pipefail; { \
	  $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 20m ./bench/ && \
	  $(GO) test -run '^$$' -bench 'Store|QuerySeries' -benchmem -benchtime $(BENCHTIME) -timeout 10m ./state/store/ && \
	  $(GO) test -run '^$$' -bench 'Chunk' -benchmem -benchtime 200x -timeout 10m ./state/chunkenc/ && \
	  $(GO) test -run '^$$' -bench 'Scrape' -benchmem -benchtime 20x -timeout 10m ./ingest/scrape/ && \
	  $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 10m ./detect/; \
	} 2>&1 | tee $(BIN)/bench.txt
