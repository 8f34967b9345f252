# Exhibit — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/exhibit

.PHONY: all setup build demo test test-short vet bench-vet fmt-check fuzz-seeds bench bench-labday fault-sync bench-sync clean verifier-portable

all: build

setup:
	@scripts/setup

build: setup
	$(GO) build -o $(BIN) ./cmd/exhibit

# A scripted end-to-end run of what exists, printing what it does.
demo: build
	@scripts/demo $(BIN)

# The packages where goroutines meet: their code starts goroutines (the
# store's committer, the link's reader, servers, simulators), or their tests
# drive them from several at once. `make test` runs their tests under the
# race detector; internal/repotest fails if a package whose code has a go
# statement is missing here.
RACE_PKGS := \
	./chain/bagit \
	./chain/blobstore/fsstore \
	./chain/blobstore/memstore \
	./chain/blobstore/storetest \
	./chain/ledger \
	./chain/store/memstore \
	./chain/store/pgstore \
	./chain/store/sqlitestore \
	./chain/store/storetest \
	./cmd/exhibit/cli \
	./devices/camera/camsim \
	./devices/camera/netcam \
	./devices/camera/v4l2 \
	./devices/light \
	./devices/light/lightsim \
	./devices/rigsim \
	./devices/rigsim/scene \
	./devices/scanner \
	./devices/scanner/scannersim \
	./devices/serialport \
	./devices/serialport/pty \
	./devices/serialport/serialtest \
	./lab/astm \
	./lab/astm/link \
	./lab/hl7 \
	./lab/labday \
	./lab/labsim \
	./lab/receive \
	./lab/transport \
	./internal/clock \
	./internal/streamtest \
	./internal/faultproxy \
	./api/web \
	./imaging/capture \
	./api/kiosk \
	./api/bench \
	./api/hub \
	./api/hub/agentsync \
	./api/hub/enrol \
	./api/hub/enrol/registrytest \
	./api/hub/ingest \
	./api/hub/upload \
	./api/hub/synctest \
	./imaging/imagingtest

# Everything CI runs: formatting, vet, every package built (cgo ones included),
# the bundle verifier built without cgo for other platforms, the bench/tessera
# module vetted and built, and every test once — RACE_PKGS
# with the race detector, the others without. The ordinary run includes each
# package's TestWriteCorpus, which fails if a committed fuzz seed corpus
# differs from the table it is generated from.
test: setup fmt-check vet bench-vet verifier-portable
	$(GO) build ./...
	$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 30m $$(comm -23 <($(GO) list ./... | sort) <($(GO) list $(RACE_PKGS) | sort))

test-short: fmt-check vet
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

# The packages that verify a bundle build without cgo for every platform a
# verifier may run on: a defence expert's Windows or macOS laptop, and a
# browser (js/wasm). internal/repotest keeps SQLite, OpenCV and serial ports
# out of their dependencies.
VERIFIER_PKGS := ./chain ./chain/tlog ./chain/bagit ./chain/bundle
verifier-portable:
	@for t in windows/amd64 darwin/arm64 js/wasm; do \
		echo "CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} go build $(VERIFIER_PKGS)"; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build $(VERIFIER_PKGS) || exit 1; \
	done

# bench/tessera is a module of its own, so that Tessera never becomes a
# dependency of Exhibit, and nothing above enters it: vetting and building it
# here keeps it from rotting as the packages it uses change (scripts/setup
# downloads its modules).
bench-vet:
	cd bench/tessera && $(GO) vet ./... && $(GO) build ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench: build
	scripts/bench

# A lab day of 1,500 samples (lab/labday), run three times: intake, orders,
# three analyser simulators on pseudo-terminals, QC, review, authorisation
# and reports, each day checked; figures per phase, with a baseline of
# plain ledger captures (docs/BENCHMARKS.md, "A lab day").
bench-labday:
	$(GO) test ./lab/labday -run '^$$' -bench Day -benchtime 1x -count 3 -timeout 60m

# The agent-to-hub sync's long runs (issue 12; docs/BENCHMARKS.md): the
# SIGKILL campaign with 200 kills of the agent and 200 of the hub (make
# test runs 50 of each), and the 2 GiB backlog synced against a plain
# HTTPS upload to the same hub.
fault-sync:
	EXHIBIT_SYNC_KILLS=200 $(GO) test ./cmd/exhibit/cli -run '^TestSyncSurvivesSIGKILL$$' -count=1 -v -timeout 60m

bench-sync:
	EXHIBIT_SYNC_BENCH_ITEMS=200 EXHIBIT_SYNC_BENCH_SIZE=10737418 $(GO) test ./api/hub/syncbench -run '^$$' -bench Sync -benchtime 3x -count 3 -timeout 60m
	$(GO) test ./api/hub/ingest -run '^$$' -bench . -benchtime 3x -count 5

clean:
	rm -rf bin
