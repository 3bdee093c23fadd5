#!/usr/bin/env bash
# Run the example pipeline on the bundled sample data (no services needed). README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/osiris-target}"
# Built the way the test suite builds it: `cargo build` resolves dependency features without the
# dev-dependencies, which would compile the bundled DuckDB a second time (~25 min).
scripts/build-deps.sh
cargo test --locked --no-run --quiet 2>/dev/null || cargo test --locked --no-run
"$CARGO_TARGET_DIR/debug/osiris" run examples/orders_report.yaml "$@"
echo "--- examples/output/revenue_by_country.csv" >&2
head -n 5 examples/output/revenue_by_country.csv >&2
