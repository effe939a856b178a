# Edgeway: the two commands a newcomer needs are `make dev` and `make test`.
# Both install what is missing first (scripts/setup.sh), so they work on a
# fresh machine and do no installing on a warm one.

SHELL := /bin/sh
export PATH := $(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
DEV_PORT ?= 8787

.PHONY: dev test bench deploy setup worker sdk test-core test-e2e lint

## Install (if needed), build, and run the gateway on http://127.0.0.1:8787.
dev: setup worker
	@sh scripts/dev-vars.sh
	@sh scripts/dev-banner.sh $(DEV_PORT)
	npx wrangler dev --ip 127.0.0.1 --port $(DEV_PORT)

## Install (if needed), then run every test: core, lints, end to end.
test: setup test-core lint worker sdk test-e2e

## Benchmarks, reported as ratios measured side by side in one run.
bench: setup worker
	node bench/run.mjs
	node bench/limiter.mjs
	node bench/cache.mjs

## Deploy to Cloudflare (README.md, "Deploy", lists the one-time steps).
deploy: setup worker
	npx wrangler deploy

setup:
	@sh scripts/setup.sh

worker:
	@sh scripts/build-worker.sh

sdk:
	cargo build -q -p edgeway-sdk --target wasm32-unknown-unknown --release

test-core:
	cargo test -p edgeway-core

lint:
	cargo clippy -q -p edgeway-core --all-targets -- -D warnings
	cargo clippy -q -p edgeway-worker -p edgeway-sdk --target wasm32-unknown-unknown -- -D warnings

test-e2e:
	node tests/run.mjs
