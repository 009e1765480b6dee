# syntax=docker/dockerfile:1
# Build: docker build --build-arg ENGINE_BUILD=$(git rev-parse --short=12 HEAD) -t hl7-engine .
# Run:   docker run -p 8080:8080 -p 9960:9960 -v engine-data:/app/data hl7-engine

# Stage 1: one binary, built exactly as `deno task compile` builds it (same flags as
# `deno task start`, V8's included, plus --unstable-kv: a binary cannot read deno.json).
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY app ./app
COPY codecs ./codecs
COPY actors ./actors
COPY transports ./transports
RUN deno compile --unstable-kv --allow-net --allow-read --allow-write --allow-env --allow-sys --v8-flags=--no-memory-reducer --include transports/mllp/out_worker.ts --include actors/engine/plan_thread.ts --include actors/store/integrity_worker.ts --output dist/engine main.ts
# The runtime image has no shell: the data folder is made here, owned by the unprivileged user.
RUN mkdir -p /out/data && chown -R 65532:65532 /out/data

# Stage 2: jemalloc, from the Debian release the runtime image is built on (bookworm is
# distroless's debian12). Preloaded, it takes ~10 % off the engine's CPU per message: glibc's
# malloc spent ~15 % of the main thread under load (README, "Command line").
FROM debian:bookworm-slim AS jemalloc
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 \
  && cp "$(ls /usr/lib/*-linux-gnu/libjemalloc.so.2)" /libjemalloc.so.2

# Stage 3: only the binary, its config, jemalloc and the glibc they link against; no Deno, no
# sources.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /src/dist/engine /app/engine
COPY --from=jemalloc /libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
# The build shown on GET /admin/nodes and engine_build_info (a binary cannot read .git):
# docker build --build-arg ENGINE_BUILD=$(git rev-parse --short=12 HEAD) .
ARG ENGINE_BUILD=unknown
ENV ENGINE_BUILD=$ENGINE_BUILD
COPY config ./config
COPY --from=build --chown=65532:65532 /out/data /app/data
# KV (./data/engine.kv) and the generated admin token live on a volume.
VOLUME ["/app/data"]
USER 65532:65532
EXPOSE 8080 9960
# The binary answers its own health check (no curl in the image): `engine health URL`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/app/engine", "health", "http://127.0.0.1:8080/healthz"]
# The same entry point and arguments as `deno task start`.
ENTRYPOINT ["/app/engine"]
CMD ["serve", "--config", "config/demo.json"]
