# forgejo-mcp-broker — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
NPM_INSTALL_STAMP := node_modules/.package-lock.json

.PHONY: help install build typecheck test test-unit demo bench testbed-build image image-run clean

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

test: install typecheck testbed-build ## run everything: unit, integration, real-Gitea end to end, browser
	npx vitest run

demo: install testbed-build ## run the broker in front of a local Gitea; Ctrl-C stops everything
	npx tsx scripts/demo.ts

bench: install ## relay latency benchmark (figures as ratios against direct stdio)
	npm run bench

clean: ## remove build output and test artifacts
	rm -rf dist test-artifacts
