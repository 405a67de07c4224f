# forgejo-mcp-broker — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
NPM_INSTALL_STAMP := node_modules/.package-lock.json
IMAGE ?= localhost/fjmcp-broker
MCP_CHILD ?= forgejo-mcp
VERSION := $(shell node -p "require('./package.json').version")

.PHONY: help install build typecheck test test-node24 test-unit demo bench testbed-build node24-tools image image-run clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(NPM_INSTALL_STAMP): package.json package-lock.json
	npm ci
	@touch $@

install: $(NPM_INSTALL_STAMP) ## install npm dependencies (better-sqlite3 compiles from source)

build: install ## compile TypeScript to dist/
	npm run build

typecheck: install ## type-check sources and tests
	npm run typecheck

testbed-build: ## build (cached) the test-bed Gitea and install the MCP children
	scripts/testbed build

# Node 24 (npm package `node`) and the MCP test tools that need Node >= 22 (conformance 0.2).
NODE24_DIR ?= $(HOME)/.cache/fjmcp-node24
NODE24_TOOLS_STAMP := test/node24-tools/node_modules/.package-lock.json
$(NODE24_TOOLS_STAMP): test/node24-tools/package.json test/node24-tools/package-lock.json
	@test -x $(NODE24_DIR)/node_modules/.bin/node || npm install --silent --no-save --prefix $(NODE24_DIR) node@24
	npm ci --prefix test/node24-tools --engine-strict=false --no-audit --no-fund
	@touch $@

node24-tools: $(NODE24_TOOLS_STAMP) ## install Node 24 and the test tools that need it (conformance 0.2)

test: install typecheck testbed-build node24-tools ## run everything: unit, integration, real-Gitea end to end, browser
	npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json; \
	  status=$$?; node scripts/test-summary.mjs test-artifacts/vitest.json; exit $$status

# The same suite on Node 24 LTS: scripts/with-node24 puts Node 24 first on PATH and better-sqlite3's
# Node 24 build in place for the run (docs/operations.md §Node versions). Not at the same time as
# `make test` in the same checkout.
test-node24: install typecheck testbed-build node24-tools ## run everything on Node 24 LTS
	rm -f test-artifacts/vitest-node24.json; scripts/with-node24 npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest-node24.json; \
	  status=$$?; node scripts/test-summary.mjs test-artifacts/vitest-node24.json; exit $$status

demo: install testbed-build ## run the broker in front of a local Gitea; Ctrl-C stops everything
	node --import tsx scripts/demo.ts

bench: install ## relay latency benchmark (figures as ratios against direct stdio)
	npm run bench

image: ## build the container image with podman (MCP_CHILD=forgejo-mcp|gitea-mcp)
	podman build -f Containerfile --build-arg MCP_CHILD=$(MCP_CHILD) -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

image-run: ## run the image on 127.0.0.1:8787 with ./fjmcp-broker.env and the fjmcp-broker-data volume
	@test -f fjmcp-broker.env || { echo "no ./fjmcp-broker.env: run fjmcp-broker init first" >&2; exit 2; }
	podman run --rm -it --name fjmcp-broker -p 127.0.0.1:8787:8787 --env-file fjmcp-broker.env -v fjmcp-broker-data:/data \
	  --read-only --cap-drop=all --security-opt=no-new-privileges $(IMAGE):latest

clean: ## remove build output and test artifacts
	rm -rf dist test-artifacts
