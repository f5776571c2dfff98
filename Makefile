# lbdns: see README.md.
SHELL := /bin/bash
# The release this tree builds: the file VERSION, which the binary embeds (lbdns --version), the image's tag and
# labels, the chart and every manifest take (version_test.go checks that they agree).
VERSION := $(shell cat VERSION)
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
LDFLAGS := -s -w -X main.commit=$(COMMIT)

.PHONY: all build static image release deps demo run-local test unit e2e lint docs bench machinebench scalebench dnsbench failbench fuzz clean

all: build

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/lbdns ./cmd/lbdns

# The binary the Dockerfile ships: static (no libc), version stamped, runs.
static: build
	@file bin/lbdns | grep -q "statically linked" || { file bin/lbdns; echo "bin/lbdns is not static"; exit 1; }
	bin/lbdns --version | grep -q "lbdns $(VERSION)"
	@echo "bin/lbdns: static, $$(bin/lbdns --version)"

# The OCI image without a Docker engine: bin/lbdns-image.oci.tar for linux/amd64 and linux/arm64 (crane),
# then checked as a user would (skopeo inspect, umoci unpack, run as uid 65532, push to a loopback registry).
image: deps
	VERSION=$(VERSION) hack/image.sh
	VERSION=$(VERSION) hack/image-check.sh

# The release artifacts of VERSION into dist/: binaries, the OCI image, the packaged chart, SBOMs, SHA256SUMS
# (hack/release.sh; see docs/releasing.md).
release: image
	hack/release.sh

# The local demo: kube-apiserver, three Services, lbdns answering DNS on 127.0.0.1:5353.
demo:
	hack/demo.sh

# lbdns with a stock external-dns (connector) writing to BIND9, on this machine.
run-local:
	hack/local-run.sh

# Everything CI runs: formatting, vet, unit tests, then the e2e suite on real components.
test: deps lint static unit image e2e

# Debian packages the tests need (apt-get, only when missing).
deps:
	hack/install-deps.sh

STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.7.0

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	cd e2e && go vet ./...
	$(STATICCHECK) ./...
	cd e2e && $(STATICCHECK) ./...

unit:
	go test -race -count=1 ./...

# docs/configuration.md and docs/metrics.md, generated from the code (a unit test fails when they drift).
docs:
	LBDNS_UPDATE_DOCS=1 go test -count=1 -run TestDocsAreCurrent ./cmd/lbdns

# Real etcd, kube-apiserver, BIND9 and external-dns v0.22.0 (installed or built on first use).
e2e: deps
	hack/build-tools.sh
	cd e2e && go test -v -count=1 -timeout 30m ./...

bench:
	go test -run '^$$' -bench . -benchmem ./probe ./source ./provider ./provider/dnsserver ./controller

# What the machine gives: the same CPU-bound loop alone and once per processor at once (speed-up near the
# number of processors on real cores; the benchmarks' 2-vCPU VM gives 1.0-1.8 depending on the moment).
machinebench:
	go test -run '^$$' -bench BenchmarkParallelism -benchtime 3x ./internal/machine | grep -E '^(machine|ok|FAIL)'

fuzz:
	go test -run '^$$' -fuzz FuzzParseAnnotations -fuzztime 60s ./source
	go test -run '^$$' -fuzz FuzzServeDNS -fuzztime 60s ./provider/dnsserver

clean:
	rm -rf bin

# lbdns and external-dns on the same LoadBalancer Services of a real kube-apiserver, in one run, at 1,000, 10,000
# and 100,000 Services: time to ready, memory, CPU per change and for the create storms, change -> DNS answer
# latency. Prints a table per size and one of them all, and draws the cost curve into docs/scale-cost.png.
# LBDNS_SCALE_SERVICES (growing sizes), LBDNS_SCALE_CHANGES and LBDNS_SCALE_PLOT override. Not part of make test.
LBDNS_SCALE_SERVICES ?= 1000,10000,100000
LBDNS_SCALE_PLOT ?= $(CURDIR)/docs/scale-cost.png
scalebench: deps
	hack/build-tools.sh kube-apiserver external-dns
	cd e2e && LBDNS_SCALE_SERVICES=$(LBDNS_SCALE_SERVICES) LBDNS_SCALE_PLOT=$(LBDNS_SCALE_PLOT) \
	  go test -run '^$$' -bench BenchmarkScale -benchtime 1x -timeout 120m ./... | grep -E '^(scalebench|\||make scalebench|ok|FAIL|---)|_test.go'

# Queries per second of the embedded DNS, BIND 9, Knot DNS, NSD and CoreDNS v1.15.0 (built from its Go module on first
# use) serving the same zone, from dnsperf, in one run, beside the ceiling (an echo responder). (hack/dnsbench.sh
# loads a running `make demo`.)
dnsbench: deps
	hack/build-tools.sh kube-apiserver external-dns coredns
	cd e2e && set -o pipefail && go test -run '^$$' -bench BenchmarkDNS -benchtime 1x -timeout 30m ./... | \
	  grep -E '^(dnsbench|\||make dnsbench|ok|FAIL|---)|_test.go'

# The fault scenarios of the e2e suite at full length: 20 pause/resume
# cycles of the standalone leader, 1,000 blackholed targets, a 60 s API
# server outage, 30 s and 120 s DNS server outages (the suite runs 3, 300,
# 20 s and 30 s); then BenchmarkFailover: backend stop -> answer without it
# and back, for every output side by side (embedded DNS with and without the
# fast interval, standalone rfc2136, connector + external-dns, DNSEndpoint +
# external-dns) and beside PowerDNS and gdnsd, 50 rounds (LBDNS_FAILOVER_ROUNDS)
# at default and 500 ms probes, and 3 (LBDNS_FAILOVER_DEFAULTS_ROUNDS) with
# every server at its defaults (LBDNS_FAILOVER_PROFILES=2s,500ms,defaults picks;
# LBDNS_FAILOVER_OUTPUTS=embedded leaves out the writers and external-dns);
# then BenchmarkProbeCost: CPU and memory of lbdns, PowerDNS and gdnsd probing
# 1,000 TCP targets. Not part of make test.
failbench: deps
	hack/build-tools.sh
	cd e2e && set -o pipefail && LBDNS_E2E_PAUSE_CYCLES=20 LBDNS_E2E_BLACKHOLED=1000 \
	  LBDNS_E2E_API_OUTAGE_SECONDS=60 LBDNS_E2E_OUTAGES=30,120 \
	  go test -v -count=1 -timeout 30m -run 'TestFaults' ./... | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|PASS [0-9]|cycle|_test.go'
	cd e2e && set -o pipefail && go test -run '^$$' -bench 'BenchmarkFailover|BenchmarkProbeCost' -benchtime 1x -timeout 120m ./... | \
	  grep -E '^(failbench|probecost|\||make failbench|ok|FAIL|---)|_test.go'
