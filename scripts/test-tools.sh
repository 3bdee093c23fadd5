#!/usr/bin/env bash
# Tools the integration tests drive as the real thing, installed when missing:
#   - Debian's chromium, which renders the HTML report headless (tests/it/report_browser.rs).
# A test whose tool is missing fails (it is never skipped), so this script runs before the suite.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "test-tools: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "test-tools: install ${need[*]} (Debian/Ubuntu: apt-get install ${need[*]})" >&2
  exit 1
fi
