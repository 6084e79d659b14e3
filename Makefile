# immutos-action: `make demo` runs the whole job on a built-in example,
# `make test` runs the tests. See README.md.
GO ?= go
export PATH := $(PATH):/usr/sbin:/sbin
FUZZTIME ?= 60s
MUTANTS ?= 2000
LDFLAGS := -s -w -buildid=

.PHONY: build test demo bench fuzz mutation interop fmt clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/immutos-diff ./cmd/diff
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/immutos-verify ./cmd/verify

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

demo: build
	./examples/demo.sh

bench: build
	./examples/bench.sh

fuzz:
	./examples/fuzz.sh $(FUZZTIME)

mutation:
	./examples/mutation.sh $(MUTANTS)

# cosign interoperability (installs cosign with go install: takes minutes)
interop: build
	./examples/interop.sh

fmt:
	gofmt -l -w .

clean:
	rm -rf bin
