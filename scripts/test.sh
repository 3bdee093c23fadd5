#!/usr/bin/env bash
# The whole test suite, from a fresh machine: start (or install) the services the tests need,
# check formatting and lints, then run every unit and integration test.
# README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# Persistent target dir: the bundled DuckDB takes ~25 minutes to compile on 2 cores.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/osiris-target}"
scripts/build-deps.sh
scripts/services.sh
scripts/mariadb-tls.sh
scripts/test-tools.sh
# Formatting and lints are part of the suite: CI is red when either drifts.
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked "$@"
