# osiris in a container: the image `osiris export k8s --image` and the Dagster/Kubernetes launchers
# name. Build where a Docker daemon runs:
#   docker build -t osiris:latest .
# then put a project on top of it:
#   FROM osiris:latest
#   COPY . /project
# The build compiles the bundled DuckDB (~25 min on 2 cores).

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY schemas ./schemas
COPY examples ./examples
COPY docs ./docs
COPY README.md ./
RUN cargo build --release --locked --bin osiris && strip target/release/osiris

# Runtime: the binary, CA certificates, and the two shared libraries it links (OpenSSL for TLS,
# libstdc++ for DuckDB); nothing else.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 osiris && mkdir /project && chown osiris /project
COPY --from=build /src/target/release/osiris /usr/local/bin/osiris
USER osiris
WORKDIR /project
ENTRYPOINT ["osiris"]
CMD ["--help"]
