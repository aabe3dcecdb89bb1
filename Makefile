# Two commands matter: `make run` (the gateway) and `make test` (everything). Both install what
# they need first, so they work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
WASM := target/wasm32-wasip1/release/bedrock_access_filter.wasm
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/[^0-9.]/,""); print}' Cargo.lock)

.PHONY: run test build deps rust-deps py-deps node-deps codex-deps agents-deps lint unit wasm-test emulator-test docs-test e2e deploy-test oci bench fuzz fuzz-smoke fuzz-deps fault-wasm soak clean

run: build py-deps
	$(PY) envoy/gateway.py

build: rust-deps
	cargo build --release --target wasm32-wasip1
	@ls -l $(WASM) | awk '{print "built " $$9 " (" $$5 " bytes)"}'

test: deps lint unit fuzz-smoke wasm-test build emulator-test docs-test e2e deploy-test

deps: rust-deps py-deps node-deps codex-deps agents-deps

rust-deps:
	@rustup target list --installed | grep -q wasm32-wasip1 || rustup target add wasm32-wasip1
	@rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
	@if [ "$$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $$2}')" != "$(WASM_BINDGEN_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		cargo install wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)"; \
	fi

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r tests/requirements.txt
	touch $@

py-deps: $(VENV)/.installed

tests/node/node_modules/.installed: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm install --no-audit --no-fund --loglevel=error
	touch $@

node-deps: tests/node/node_modules/.installed

# The Codex CLI for its end-to-end tests (the npm package ships Codex's native binary).
tests/codex/node_modules/.installed: tests/codex/package.json
	cd tests/codex && npm install --no-audit --no-fund --loglevel=error
	touch $@

codex-deps: tests/codex/node_modules/.installed

# Claude Code, the Cline CLI and Continue's `cn`, pinned, for their end-to-end tests.
tests/agents/node_modules/.installed: tests/agents/package.json tests/agents/package-lock.json
	cd tests/agents && npm install --no-audit --no-fund --loglevel=error
	touch $@

agents-deps: tests/agents/node_modules/.installed

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --release --target wasm32-wasip1 --lib -- -D warnings

unit:
	cargo test

# The core's tests again, compiled to wasm32 and run under Node by wasm-bindgen-test.
wasm-test:
	cargo test --target wasm32-unknown-unknown --lib

emulator-test: py-deps
	$(PY) -m pytest -q tests/emulator

# README's configuration table against the options src/config.rs reads.
docs-test: py-deps
	$(PY) -m pytest -q tests/docs

e2e: build fault-wasm py-deps node-deps codex-deps agents-deps
	$(PY) -m pytest -q tests/e2e

# The filter with a test-only trigger that crashes it (feature fault-injection), built apart
# so the released .wasm never has it; tests/e2e/test_faults.py checks Envoy's VM reload with it.
FAULT_WASM := target/fault-injection/wasm32-wasip1/release/bedrock_access_filter.wasm
fault-wasm: rust-deps
	cargo build --release --target wasm32-wasip1 --features fault-injection --target-dir target/fault-injection

# cargo-fuzz targets (fuzz/): 15 s each in `make test`; `make fuzz` runs FUZZ_SECONDS each and
# keeps a minimized corpus. Both work on stable Rust (see fuzz/run.sh).
FUZZ_SECONDS ?= 600
fuzz-deps:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

fuzz-smoke: fuzz-deps
	fuzz/run.sh 15

fuzz: fuzz-deps
	fuzz/run.sh $(FUZZ_SECONDS) keep

# Not part of `make test`: a bounded load through Envoy with the filter's memory watched.
soak: build py-deps
	$(PY) tests/soak/soak.py

# Deployment recipes (docker compose, Kubernetes, Istio, Envoy Gateway, OCI image, AWS ECS) checked
# against the tested Envoy config, the real Envoy, the resource schemas and cfn-lint / hadolint.
deploy-test: build py-deps
	$(PY) -m pytest -q tests/deploy

# The filter as an OCI image (Wasm image spec, compat variant) for Istio and Envoy Gateway:
# a reproducible OCI layout in target/oci/ plus the same as one tar. OCI_TAG picks the tag.
OCI_TAG ?= latest
oci: build
	python3 deploy/oci.py --wasm $(WASM) --tag $(OCI_TAG) --out target/oci

# Not part of `make test`: the filter against Envoy passthrough and LiteLLM (README "Benchmark").
bench: build py-deps
	sh bench/setup.sh
	$(PY) bench/run.py

clean:
	cargo clean
	rm -rf $(VENV) tests/node/node_modules tests/codex/node_modules tests/agents/node_modules
