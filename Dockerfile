# syntax=docker/dockerfile:1
# Multi-stage build of the `vcao` binary. Needs BuildKit (default since Docker 23) for the cache mounts.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The whole workspace: `--locked` needs Cargo.lock and every member crate to resolve.
COPY . .
# Cache mounts keep the crate registry and target/ between builds; target/ is not part of the image
# layer, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p api --bin vcao \
    && install -m 0755 target/release/vcao /usr/local/bin/vcao

FROM debian:bookworm-slim
# ca-certificates: TLS to PostgreSQL/Redis when their URLs use it. No curl, hence no HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Fixed uid so a volume or bind mount can be chowned to it from the host.
RUN groupadd --system --gid 10001 vcao \
    && useradd --system --uid 10001 --gid vcao --home-dir /var/lib/vcao --shell /usr/sbin/nologin vcao \
    && install -d -o vcao -g vcao -m 0700 /var/lib/vcao
COPY --from=builder /usr/local/bin/vcao /usr/local/bin/vcao
# Data dir holds generated JWT keys (and SQLite when DATABASE_URL is unset); bind on all interfaces
# because the default 127.0.0.1 is unreachable from outside the container.
ENV VCAO_DATA_DIR=/var/lib/vcao \
    VCAO_BIND=0.0.0.0:8080
EXPOSE 8080
USER vcao
ENTRYPOINT ["vcao"]
CMD ["serve"]
