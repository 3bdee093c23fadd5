#!/usr/bin/env bash
# Run the example pipeline on the bundled sample data (no services needed). README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/osiris-target}"
cargo run --locked --quiet -- run examples/orders_report.yaml "$@"
echo "--- examples/output/revenue_by_country.csv" >&2
head -n 5 examples/output/revenue_by_country.csv >&2
