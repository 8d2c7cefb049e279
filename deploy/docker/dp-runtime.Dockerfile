# syntax=docker/dockerfile:1
# The data plane, dp-runtime: built in a Rust image, run from a slim Debian one as a non-root user.
#   docker build -f deploy/docker/dp-runtime.Dockerfile -t agent-marketplace/dp-runtime .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target folders are build caches: a rebuild compiles only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p dp-runtime \
    && install -D target/release/dp-runtime /out/dp-runtime

# The local models (the memory nodes' embedder, the llm nodes' local LLM), fetched as `just models` fetches
# them (nothing at run time).
FROM python:3.11-slim-bookworm AS model
WORKDIR /src
COPY scripts/models.sh scripts/models.sh
RUN bash scripts/models.sh

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 app \
    && useradd --uid 65532 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/dp-runtime
COPY --from=build /out/dp-runtime /usr/local/bin/dp-runtime
COPY --from=model /src/data/models/all-MiniLM-L6-v2 /opt/dp-runtime/models/all-MiniLM-L6-v2
COPY --from=model /src/data/models/SmolLM2-135M-Instruct /opt/dp-runtime/models/SmolLM2-135M-Instruct
ENV DP_LISTEN=0.0.0.0:9464 \
    DP_DATA_DIR=/var/lib/dp-runtime \
    DP_MODEL_DIR=/opt/dp-runtime/models/all-MiniLM-L6-v2 \
    DP_LLM_MODEL_DIR=/opt/dp-runtime/models/SmolLM2-135M-Instruct
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/dp-runtime"]
CMD ["serve"]
