# eurekad build and test entry points. `make test` is what CI runs
# (.ci/run): it installs what the tests need, then runs every test.

GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
JSCLIENT := test/jsclient

.PHONY: all build test lint deps bench fuzz clean proto proto-check proto-tools

all: build

build:
	$(GO) build -o $(BIN)/eurekad ./cmd/eurekad

## test: formatting, vet, fresh generated code, and every test with the race detector.
test: deps lint proto-check
	$(GO) test -race -count=1 -timeout 20m ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(JSCLIENT)/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## deps: what the tests need beyond Go: the eureka-js-client from its lock file,
## redis-server (Debian package) for the Redis store's tests and headless
## chromium (Debian package) for the dashboard's browser test.
deps: $(JSCLIENT)/node_modules/.package-lock.json
	@command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

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

# Plugin protocol code generation. buf compiles the .proto itself (no
# protoc); buf, protoc-gen-go and protoc-gen-go-grpc are pinned in
# tools/proto/go.mod and built from the Go module proxy.
PROTO_DIR   := sdk/plugin/internal/pluginpb
PROTO_TOOLS := $(CURDIR)/$(BIN)/prototools

proto-tools:
	cd tools/proto && $(GO) build -o $(PROTO_TOOLS)/ \
		github.com/bufbuild/buf/cmd/buf \
		google.golang.org/protobuf/cmd/protoc-gen-go \
		google.golang.org/grpc/cmd/protoc-gen-go-grpc

# wire.json is the protocol as last generated (a buf image without
# comments): make proto refuses a change that breaks it (buf breaking, FILE
# rules: a removed or renumbered field, a changed type...), then records the
# new protocol. A breaking change needs protocol version 2 beside version 1.
PROTO_WIRE := wire.json

## proto: regenerate the plugin protocol's Go code from its .proto, after
## checking that the change keeps protocol version 1 compatible.
proto: proto-tools
	cd $(PROTO_DIR) && export PATH=$(PROTO_TOOLS):$$PATH && \
	buf breaking --against $(PROTO_WIRE) && buf generate && \
	buf build --exclude-source-info -o $(PROTO_WIRE)

## proto-check: fail when the .proto breaks the recorded protocol, or the
## committed generated code or wire.json is not what the .proto gives.
proto-check: proto-tools
	@tmp=$$(mktemp -d) && trap 'rm -rf '$$tmp EXIT && \
	cd $(PROTO_DIR) && export PATH=$(PROTO_TOOLS):$$PATH && \
	buf breaking --against $(PROTO_WIRE) && \
	buf generate -o $$tmp && \
	buf build --exclude-source-info -o $$tmp/$(PROTO_WIRE) && \
	for f in $$tmp/*.go $$tmp/$(PROTO_WIRE); do \
		if ! cmp -s $$(basename $$f) $$f; then \
			diff -u $$(basename $$f) $$f | head -50; \
			echo "$(PROTO_DIR)/$$(basename $$f) is stale: run make proto"; exit 1; \
		fi; \
	done && echo "generated code is up to date and protocol 1 is unbroken"
