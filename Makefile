# NovaCron: the commands the README shows and CI runs. `make help` lists them.

GO      ?= go
BIN     := bin/novacron
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/novacron/novacron/internal/version.Version=$(VERSION)
TAGS    := libvirt_dlopen

.PHONY: help build install run deps ui-vendor test test-short bench bench-quick vet fmt clean

PREFIX ?= /usr/local

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/novacron
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/novacron

install: build ## install novacron into $(PREFIX)/bin (default /usr/local) with its bash, zsh and fish completions; DESTDIR= for packaging
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/novacron
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	./$(BIN) completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/novacron
	./$(BIN) completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_novacron
	./$(BIN) completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/novacron.fish

run: build ## start a single-node dev cluster (sim hypervisor, temporary data dir)
	./$(BIN) agent -dev

vet: ## go vet every package
	$(GO) vet -tags $(TAGS) ./...

fmt: ## check that every Go file is gofmt-formatted
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

deps: ## as root: install what the libvirt, PostgreSQL, Prometheus and browser tests need (Debian packages, guest image)
	@if [ "$$(id -u)" = 0 ]; then deploy/lab/lab.sh deps && deploy/test-deps.sh; \
	else echo "not root: the tests that need libvirt, QEMU, PostgreSQL, Prometheus or Chromium will skip (run make test as root to run them)"; fi

ui-vendor: ## fetch the dashboard's libraries (uPlot, xterm.js) from npm at their pinned versions into ui/static/vendor
	deploy/ui-vendor.sh

test: deps build vet fmt ## run every test: unit, in-process clusters, real processes, real libvirt hosts
	@start=$$(date +%s); $(GO) test -tags $(TAGS) -count=1 -timeout 30m ./...; rc=$$?; \
	echo "make test: the suite took $$(( $$(date +%s) - start ))s (exit $$rc)"; exit $$rc

test-short: ## the fast tests only: no root, no libvirt daemon, QEMU or lab, no real-process cluster
	NOVACRON_LABTEST_REQUIRE= $(GO) test -tags $(TAGS) -short -count=1 ./...

bench: build ## measure raft baseline vs NovaCron API, and (as root) the lab; see docs/BENCHMARKS.md
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchtime 5s -timeout 30m ./bench/
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchtime 3x ./diskstore/
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchtime 2s ./metricstore/ ./eventlog/
	@if [ "$$(id -u)" = 0 ]; then $(GO) test -tags $(TAGS) -run '^$$' -bench . -benchtime 3s ./storage/postgres/; \
	else echo "not root: skipping the PostgreSQL benchmarks (they start a real PostgreSQL)"; fi
	@if [ "$$(id -u)" = 0 ]; then $(GO) test -tags $(TAGS) -count=1 -run '^$$' -bench . -timeout 30m ./labtest/; \
	else echo "not root: skipping the lab benchmarks (real libvirt hosts)"; fi

bench-quick: ## the write path's regression guard (under 2 min): figures next to bench/quick-record.txt, >15% worse marked; RECORD=1 makes this run the record
	$(GO) run ./bench/quick $(if $(RECORD),-record)

.PHONY: fuzz

FUZZTIME ?= 30s

fuzz: ## run each fuzz target (commands, apply, snapshots, auth header, request bodies, domain XML) for FUZZTIME (default 30s)
	@for t in ./fsm:FuzzDecode ./fsm:FuzzApply ./fsm:FuzzRestore ./api:FuzzAuthorizationHeader ./api:FuzzDecodeBody ./hypervisor/libvirt:FuzzDomainXML; do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg/ || exit 1; \
	done

clean: ## remove build output
	rm -rf bin

.PHONY: lab lab-down

lab: build ## start a local lab: N libvirt hosts, one agent each (root; HOSTS=N, default 3)
	@deploy/lab/lab.sh up $(if $(HOSTS),--hosts $(HOSTS))

lab-down: ## stop the lab and remove everything it started
	@deploy/lab/lab.sh down
