#!/usr/bin/env bash
# What the build needs beyond Rust and a C/C++ compiler: pkg-config and the OpenSSL headers
# (TLS for PostgreSQL and the HTTP APIs goes through the system OpenSSL). Installs them from
# Debian's packages when missing; elsewhere says what to install.
set -euo pipefail
if command -v pkg-config >/dev/null && pkg-config --exists openssl; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "build-deps: installing pkg-config and libssl-dev" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libssl-dev >/dev/null
else
  echo "build-deps: install pkg-config and the OpenSSL development headers (Debian/Ubuntu: libssl-dev, Fedora: openssl-devel, macOS: brew install openssl pkg-config)" >&2
  exit 1
fi
