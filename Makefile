# eurekad build and test entry points. `make test` is what CI runs
# (.ci/run): it installs what the tests need, then runs every test.

GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
JSCLIENT := test/jsclient
# TOOL_MODULES are the tools with a Go module of their own (tools/proto
# only pins the code generators): go vet/test ./... at the root skip them,
# so lint and the test targets run them explicitly.
TOOL_MODULES := tools/eurekabench

.PHONY: all build test test-short lint deps bench fuzz clean proto proto-check protoc protoc-plugins buf

all: build

# VERSION is what "eurekad version" prints for a make build; without git
# (an unpacked archive) the build info's version is used instead.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)

## build: bin/eurekad, its version stamped from git.
build:
	$(GO) build $(if $(VERSION),-ldflags "-X main.version=$(VERSION)") -o $(BIN)/eurekad ./cmd/eurekad

## test: formatting, vet, fresh generated code, and every test with the
## race detector, the tool modules' included.
test: deps lint proto-check
	$(GO) test -race -count=1 -timeout 20m ./...
	@for m in $(TOOL_MODULES); do echo "== $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

## test-short: the fast loop while editing: the packages' own tests under
## -short, without the race detector and without the suites that start real
## eurekad processes, real clients, clusters and a browser (SLOW_TESTS).
## make test runs everything.
SLOW_TESTS := /test/(cluster|dashboard|e2e|plugins|readme|sdk)$$|/examples/
test-short:
	$(GO) test -short -count=1 $$($(GO) list ./... | grep -Ev '$(SLOW_TESTS)')
	@for m in $(TOOL_MODULES); do (cd $$m && $(GO) test -short -count=1 ./...) || exit 1; done

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(JSCLIENT)/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@for m in $(TOOL_MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

## deps: what the tests need beyond Go: the eureka-js-client from its lock file,
## and Debian packages: redis-server for the Redis store's tests, headless
## chromium for the dashboard's browser test (chromedp drives it over the
## DevTools protocol, so no chromium-driver) and protobuf-compiler (protoc)
## for proto-check.
deps: $(JSCLIENT)/node_modules/.package-lock.json
	@$(call apt-need,redis-server=redis-server chromium=chromium protoc=protobuf-compiler)

# apt-need installs the Debian packages of the COMMAND=PACKAGE pairs whose
# command is missing, in one apt-get run and without their recommended
# packages (chromium's recommends alone are about 90 packages and upgrades
# of systemd and udev): a machine that has them is left alone.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
define apt-need
missing=; for cp in $(1); do command -v $${cp%%=*} >/dev/null || missing="$$missing $${cp#*=}"; done; \
[ -z "$$missing" ] || { echo "installing$$missing"; $(SUDO) apt-get update && \
$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; }
endef

$(JSCLIENT)/node_modules/.package-lock.json: $(JSCLIENT)/package-lock.json
	cd $(JSCLIENT) && npm ci --no-audit --no-fund

## bench: load benchmarks against a baseline in the same run, then go benchmarks.
bench:
	scripts/bench.sh

## fuzz: every fuzz target of the module (decoders of wire formats, the
## journal, configs) for FUZZTIME each.
fuzz:
	@for d in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for t in $$($(GO) test -list '^Fuzz' $$d | grep '^Fuzz'); do \
			echo "== $$d $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$d || exit 1; \
		done; \
	done

clean:
	rm -rf $(BIN)

# Plugin protocol code generation. protoc (Debian's protobuf-compiler)
# compiles every .proto of PROTO_DIR with protoc-gen-go and
# protoc-gen-go-grpc, pinned in tools/proto/go.mod and built from the Go
# module proxy (two small builds). buf, pinned there too, is a much larger
# build (container and registry clients) and only make proto needs it: its
# breaking-change check and wire.json.
PROTO_DIR   := sdk/plugin/internal/pluginpb
PROTO_TOOLS := $(CURDIR)/$(BIN)/prototools

protoc:
	@$(call apt-need,protoc=protobuf-compiler)

protoc-plugins:
	cd tools/proto && $(GO) build -o $(PROTO_TOOLS)/ \
		google.golang.org/protobuf/cmd/protoc-gen-go \
		google.golang.org/grpc/cmd/protoc-gen-go-grpc

buf:
	cd tools/proto && $(GO) build -o $(PROTO_TOOLS)/ github.com/bufbuild/buf/cmd/buf

# protoc-gen writes the Go code of every .proto of the current directory
# (PROTO_DIR) into directory $(1), file names beside their .proto's.
protoc-gen = PATH=$(PROTO_TOOLS):$$PATH protoc -I. \
	--go_out=$(1) --go_opt=paths=source_relative \
	--go-grpc_out=$(1) --go-grpc_opt=paths=source_relative *.proto

# The generated code's header names the protoc that ran ("// - protoc
# v3.21.12", Debian 12's). proto-check ignores that line, the only one that
# names it, so a contributor whose protoc is another release is not told
# the code is stale for that alone.
PROTOC_VERSION_LINE := /^\/\/[[:space:]-]+protoc[[:space:]]+[^[:space:]]+$$/d

# wire.json is the protocol as last generated (a buf image without
# comments): make proto refuses a change that breaks it (buf breaking, FILE
# rules: a removed or renumbered field, a changed type...), then records the
# new protocol. A breaking change needs protocol version 2 beside version 1.
# pluginpb's TestWireJSONIsTheGeneratedProtocol checks that it describes
# the generated code.
PROTO_WIRE := wire.json

## proto: regenerate the plugin protocol's Go code from its .proto, after
## checking that the change keeps protocol version 1 compatible.
proto: protoc protoc-plugins buf
	cd $(PROTO_DIR) && PATH=$(PROTO_TOOLS):$$PATH buf breaking --against $(PROTO_WIRE)
	cd $(PROTO_DIR) && tmp=$$(mktemp -d) && trap 'rm -rf '$$tmp EXIT && \
	$(call protoc-gen,$$tmp) && rm -f *.pb.go && cp $$tmp/*.pb.go .
	cd $(PROTO_DIR) && PATH=$(PROTO_TOOLS):$$PATH buf build --exclude-source-info -o $(PROTO_WIRE)

## proto-check: fail when the committed generated code is not what the
## .proto files give (without buf: see proto).
proto-check: protoc protoc-plugins
	@tmp=$$(mktemp -d) && trap 'rm -rf '$$tmp EXIT && \
	cd $(PROTO_DIR) && $(call protoc-gen,$$tmp) && \
	stale=; \
	for f in $$tmp/*.pb.go; do \
		b=$$(basename $$f); \
		sed -E '$(PROTOC_VERSION_LINE)' $$f > $$tmp/want; \
		if [ -e $$b ]; then sed -E '$(PROTOC_VERSION_LINE)' $$b > $$tmp/have; else : > $$tmp/have; fi; \
		cmp -s $$tmp/have $$tmp/want || { diff -u --label "$$b (committed)" --label "$$b (from the .proto)" $$tmp/have $$tmp/want | head -50; stale="$$stale $$b"; }; \
	done; \
	for b in *.pb.go; do \
		[ ! -e $$b ] || [ -e $$tmp/$$b ] || { echo "$$b: no .proto generates it"; stale="$$stale $$b"; }; \
	done; \
	if [ -n "$$stale" ]; then echo "stale in $(PROTO_DIR):$$stale: run make proto"; exit 1; fi; \
	echo "generated code is up to date"
