# syntax=docker/dockerfile:1
# The control plane, cp-api: built in a Rust image, run from a slim Debian one as a non-root user.
#   docker build -f deploy/docker/cp-api.Dockerfile -t agent-marketplace/cp-api .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target folders are build caches: a rebuild compiles only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cp-api \
    && install -D target/release/cp-api /out/cp-api

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 app \
    && useradd --uid 65532 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/cp-api
COPY --from=build /out/cp-api /usr/local/bin/cp-api
ENV CP_BIND=0.0.0.0:8080 \
    CP_DATA_DIR=/var/lib/cp-api
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/cp-api"]
CMD ["serve"]
