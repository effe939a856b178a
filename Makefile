# Edgeway: the two commands a newcomer needs are `make dev` and `make test`.
# Both install what is missing first (scripts/setup.sh), so they work on a
# fresh machine and do no installing on a warm one.

SHELL := /bin/sh
export PATH := $(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
DEV_PORT ?= 8787

.PHONY: dev test bench deploy setup worker sdk www test-core test-e2e lint eval

## Install (if needed), build, and run the gateway on http://127.0.0.1:8787.
dev: setup worker www
	@sh scripts/dev-vars.sh
	@npx wrangler d1 migrations apply edgeway-logs --local >/dev/null
	@sh scripts/dev-banner.sh $(DEV_PORT)
	npx wrangler dev --ip 127.0.0.1 --port $(DEV_PORT)

## Install (if needed), then run every test: core, lints, end to end.
test: setup test-core lint worker sdk www test-e2e

## Benchmarks, reported as ratios measured side by side in one run.
bench: setup worker sdk
	node bench/run.mjs
	node bench/phases.mjs
	node bench/limiter.mjs
	node bench/cache.mjs
	node bench/sdk-size.mjs
	node bench/logs.mjs
	cargo run -q --release -p edgeway-core --example tier_costs
	cargo run -q --release -p edgeway-core --example semantic_memory

## Run a golden set against a route through the gateway and gate on it
## (README.md, "Evals"): make eval [SET=...] [ROUTE=...] [UPDATE_BASELINE=1].
## Uses the gateway at $EDGEWAY_URL or :8787, or starts one for the run.
SET ?= evals/sets/demo.jsonl
ROUTE ?= demo
eval: setup worker
	node evals/run.mjs --set $(SET) --route $(ROUTE) $(if $(UPDATE_BASELINE),--update-baseline)

## Deploy to Cloudflare (README.md, "Deploy", lists the one-time steps).
deploy: setup worker www
	npx wrangler deploy

setup:
	@sh scripts/setup.sh

worker:
	@sh scripts/build-worker.sh

## The browser SDK, as the npm package `edgeway`, in sdk-wasm/pkg/.
sdk:
	@sh scripts/build-sdk.sh

## The dashboard (www/), into www/dist/, served by the worker.
www:
	@sh scripts/build-www.sh

# Core's tests, and the worker's few that run natively (its allocator).
test-core:
	cargo test -p edgeway-core
	cargo test -p edgeway-worker --lib

lint:
	cargo clippy -q -p edgeway-core --all-targets -- -D warnings
	cargo clippy -q -p edgeway-worker -p edgeway-sdk --target wasm32-unknown-unknown -- -D warnings
	cargo clippy -q -p edgeway-worker --tests -- -D warnings

# The SDK's browser tests compile during the run (they read the test
# gateway's address at compile time); building their dependencies first
# keeps that step short.
test-e2e:
	cargo build -q --tests -p edgeway-sdk --target wasm32-unknown-unknown
	node tests/run.mjs
