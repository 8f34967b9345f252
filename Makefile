# Exhibit — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/exhibit

.PHONY: all setup build demo test test-short vet fmt-check fuzz-seeds bench clean

all: build

setup:
	@scripts/setup

build: setup
	$(GO) build -o $(BIN) ./cmd/exhibit

# A scripted end-to-end run of what exists, printing what it does.
demo: build
	@scripts/demo $(BIN)

# Everything CI runs: formatting, vet, every package built (cgo ones included)
# and every test, with the race detector on the packages that use goroutines.
test: setup fmt-check vet
	$(GO) build ./...
	$(GO) test -count=1 -timeout 30m ./...

test-short: fmt-check vet
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench: build
	scripts/bench

clean:
	rm -rf bin
