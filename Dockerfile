# PostgreSQL 15 + TimescaleDB 2.28 (the last TimescaleDB line for PostgreSQL 15) +
# sensor_analytics, on the official TimescaleDB image (Alpine), which already preloads
# timescaledb (shared_preload_libraries).
#   docker build -t sensor_analytics .
#   docker run -e POSTGRES_PASSWORD=secret -p 5432:5432 sensor_analytics
#   psql -h localhost -U postgres   # timescaledb and sensor_analytics are created in the default database
# docker-compose.yml adds Grafana with the provisioned dashboards and the demo data.
ARG TIMESCALEDB_IMAGE=timescale/timescaledb:2.28.3-pg15

FROM ${TIMESCALEDB_IMAGE} AS build
# hadolint ignore=DL3018
RUN apk add --no-cache build-base clang clang-dev llvm-dev curl git openssl-dev pkgconf linux-headers bash
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
# musl links executables statically by default; an extension is a shared library.
ENV PATH=/root/.cargo/bin:$PATH \
    RUSTFLAGS="-C target-feature=-crt-static"
RUN cargo install --locked cargo-pgrx --version 0.18.1 \
    && cargo pgrx init --pg15 "$(command -v pg_config)"
WORKDIR /src
COPY . .
# The package mirrors the install paths of the image's pg_config.
RUN cargo pgrx package --pg-config "$(command -v pg_config)" --out-dir /pkg

FROM ${TIMESCALEDB_IMAGE}
COPY --from=build /pkg/ /
COPY docker/initdb/ /docker-entrypoint-initdb.d/
