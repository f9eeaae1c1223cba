# eurekad build and test entry points. `make test` is what CI runs
# (.ci/run): it installs what the tests need, then runs every test.

GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
JSCLIENT := test/jsclient

.PHONY: all build test lint deps bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/eurekad ./cmd/eurekad

## test: formatting, vet, and every test with the race detector.
test: deps lint
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

## fuzz: each decoder fuzz target for FUZZTIME.
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./sdk/eureka | grep '^Fuzz'); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./sdk/eureka || exit 1; \
	done

clean:
	rm -rf $(BIN)
