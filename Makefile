# immutos-action: `make demo` runs the whole job on a built-in example,
# `make test` runs the tests. See README.md.
GO ?= go
export PATH := $(PATH):/usr/sbin:/sbin
FUZZTIME ?= 60s
MUTANTS ?= 2000
LDFLAGS := -s -w -buildid=

.PHONY: build test demo bench fuzz mutation interop pin-release fmt clean

build:
	$(GO) build $(BUILDFLAGS) -trimpath -ldflags '$(LDFLAGS)' -o bin/immutos-diff ./cmd/diff
	$(GO) build $(BUILDFLAGS) -trimpath -ldflags '$(LDFLAGS)' -o bin/immutos-verify ./cmd/verify

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

# The first run compiles every dependency (minutes on a busy machine): -v lists the
# packages as they are compiled, so the wait shows progress.
demo:
	@echo "== building immutos-diff and immutos-verify (the first time compiles every dependency: may take several minutes; each package is listed as it compiles)"
	@$(MAKE) --no-print-directory build BUILDFLAGS=-v
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

# Before tagging VERSION: build the release binaries of this tree (reproducible: the
# release workflow builds the same bytes and checks them with check-pin) and pin their
# sha256 in bootstrap/release.sha256, which the action checks its download against.
# Commit the pin, then tag that commit.
REPO ?= org/immutos-action
pin-release:
	@test -n "$(VERSION)" || { echo "usage: make pin-release VERSION=vX.Y.Z" >&2; exit 2; }
	rm -rf dist/pin
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o dist/pin/immutos-verify-linux-$$arch ./cmd/verify || exit 1; \
	done
	./bootstrap/immutos-verify.sh pin $(VERSION) $(REPO) dist/pin

fmt:
	gofmt -l -w .

clean:
	rm -rf bin
