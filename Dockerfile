# Builds sensor_analytics and installs it into the official PostgreSQL 15 image.
#   docker build -t sensor_analytics .
#   docker run -e POSTGRES_PASSWORD=secret -p 5432:5432 sensor_analytics
#   psql -h localhost -U postgres -c 'CREATE EXTENSION sensor_analytics'
FROM postgres:15-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        postgresql-server-dev-15 libclang-dev clang build-essential pkg-config libssl-dev \
        curl ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
ENV PATH=/root/.cargo/bin:$PATH
RUN cargo install --locked cargo-pgrx --version 0.18.1 \
    && cargo pgrx init --pg15 /usr/bin/pg_config
WORKDIR /src
COPY . .
RUN cargo pgrx package --pg-config /usr/bin/pg_config --out-dir /pkg

FROM postgres:15-bookworm
COPY --from=build /pkg/ /
