# podfwd build and test entry points. `make test` and `make demo` are the two
# commands a fresh machine needs; each installs what it uses.
GO      ?= go
PKGS    := ./...
# Packages whose concurrency claims are checked under the race detector.
RACE_PKGS := ./encap/ ./lpm/... ./dataplane/... ./xdp/ ./trace/

.PHONY: all build image test deps vet unit race fuzz fuzz-all fuzz-seeds soak bench-micro demo clean

all: build

build:
	$(GO) build -o bin/podfwd ./cmd/podfwd

# The container image as an OCI layout archive ($(IMAGE_OUT)/podfwd-image.tar),
# built without a Docker engine or a registry: a static binary (no cgo,
# no build paths, no build ID) in one layer, entrypoint /podfwd as in
# deploy/Dockerfile. The same commit gives the same bytes. Load it with
# `ctr -n k8s.io images import bin/podfwd-image.tar` (or podman load).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_OUT ?= bin
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w -buildid=" -o $(IMAGE_OUT)/image/podfwd ./cmd/podfwd
	$(GO) run ./scripts/mkimage -binary $(IMAGE_OUT)/image/podfwd -version $(VERSION) -revision "$(REVISION)" -o $(IMAGE_OUT)/podfwd-image.tar

# The README's first command: build podfwd, bring up 2 nodes x 2 pods in
# network namespaces, and show ping and TCP throughput for the kernel's
# datapaths, the udp-process baseline and podfwd's tun io in each encap.
demo: deps build
	./bin/podfwd demo

deps:
	./scripts/deps.sh

# kube-apiserver, kubectl, etcd and CNI plugins for internal/kubetest, built
# once into a cache outside the checkout (minutes when cold, instant after).
kube-tools:
	./scripts/kube-tools.sh

# vet also fails on files gofmt would change, on a go.mod that `go mod tidy`
# would change, and when the shipped binary links the testing package, so
# that drift is caught by CI rather than by the next reader.
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './tools/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy (run go mod tidy):"; $(GO) mod tidy -diff; exit 1; }
	@if $(GO) list -deps ./cmd/podfwd | grep -qx testing; then echo "the podfwd binary links the testing package"; exit 1; fi
	$(GO) vet $(PKGS)

# Unit tests, fuzz seed corpora (go test runs every Fuzz target's seeds) and
# root tests (they skip when not root or a tool is missing, and fail instead
# when CI is true/1/yes). skipcheck prints the run as plain go test would,
# plus every skip with its reason, and under CI fails the run if any test
# skipped for want of root or a tool.
SKIPCHECK = $(GO) run ./internal/testenv/skipcheck
define gotest
	{ $(GO) test -json $(1) 2>&1; echo $$? > $@.status; } | $(SKIPCHECK); check=$$?; \
		status=$$(cat $@.status); rm -f $@.status; \
		if [ "$$status" != 0 ]; then echo "go test failed (exit $$status)"; exit $$status; fi; \
		exit $$check
endef

# The 5,000-Node scale tests are measurements run by hand
# (PODFWD_KUBE_SCALE=5000 go test -run Scale ...); left out here so that a
# CI run prints no skip at all.
unit:
	$(call gotest,-count=1 -timeout 25m -skip '^(TestKubeScale|TestKubeDaemonScale)$$' $(PKGS))

race:
	$(call gotest,-count=1 -race -timeout 15m -run 'Concurrent' $(RACE_PKGS))

test: deps kube-tools vet unit race

# Longer fuzzing by hand: make fuzz FUZZ=FuzzDecapIP PKG=./encap TIME=60s
fuzz:
	$(GO) test -run '^$$' -fuzz '$(FUZZ)' -fuzztime $(or $(TIME),30s) $(PKG)

# Every fuzz target, 10 minutes each unless TIME says otherwise
# (make fuzz-all TIME=30s JOBS=4 PARALLEL=1: four targets at once, one
# worker each): the long run issue 13 asks for, by hand.
fuzz-all:
	TIME=$(or $(TIME),10m) JOBS=$(or $(JOBS),1) PARALLEL=$(PARALLEL) GO=$(GO) ./scripts/fuzz-all.sh

# The soak (docs/soak.md): three daemons against a real apiserver under
# checked TCP and UDP traffic, Node churn, apiserver outages and daemon
# SIGKILLs, for 10 minutes unless SOAK says otherwise (make soak SOAK=30m).
# `make test` runs the same test for 15 s.
SOAK ?= 10m
soak: kube-tools
	PODFWD_SOAK=$(SOAK) $(GO) test -count=1 -run '^TestSoak$$' -timeout $(or $(SOAK_TIMEOUT),24h) -v ./cmd/podfwd

# Microbenchmarks: encap, lpm, the dataplane pipeline over in-memory ports,
# offload and linuxio (root: real sockets), 6 runs each (benchstat needs 6
# for a 95% confidence interval), summarised by
# benchstat (median ± spread). Narrow a run with BENCH=regexp, BENCHTIME=1s
# or 1000x, COUNT=n, BENCH_PKGS=./encap/...; the raw output stays in
# bench-micro.txt, compare two with benchstat old.txt bench-micro.txt.
BENCH_PKGS ?= ./encap/... ./lpm/... ./dataplane/...
bench-micro:
	{ nice -n 10 $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchtime $(or $(BENCHTIME),1s) \
		-benchmem -count $(or $(COUNT),6) $(BENCH_PKGS); echo $$? > bench-micro.status; } | tee bench-micro.txt
	@status=$$(cat bench-micro.status); rm -f bench-micro.status; \
		if [ "$$status" != 0 ]; then echo "go test -bench failed (exit $$status)"; exit $$status; fi
	$(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da bench-micro.txt

clean:
	rm -rf bin bench-micro.txt bench-micro.status unit.status race.status
