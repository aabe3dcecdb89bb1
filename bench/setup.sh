#!/bin/sh
# Installs what `make bench` needs besides the filter: wrk (Debian), LiteLLM in its own venv
# (PyPI), the benchmark tools (bench/tools) and the empty Wasm filter (bench/noop-filter),
# both built apart from the filter.
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
fi
if [ ! -x bench/.venv-litellm/bin/litellm ] || [ bench/litellm-requirements.txt -nt bench/.venv-litellm/.installed ]; then
  python3 -m venv bench/.venv-litellm
  bench/.venv-litellm/bin/pip install -q -r bench/litellm-requirements.txt
  touch bench/.venv-litellm/.installed
fi
(cd bench/tools && CARGO_TARGET_DIR=../../target/bench-tools cargo build --release --quiet \
  && CARGO_TARGET_DIR=../../target/bench-tools cargo build --release --quiet --target wasm32-wasip1)
(cd bench/noop-filter && CARGO_TARGET_DIR=../../target/bench-noop cargo build --release --quiet --target wasm32-wasip1)
