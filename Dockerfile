# syntax=docker/dockerfile:1
# Build: docker build -t hl7-engine .
# Run:   docker run -p 8080:8080 -p 9960:9960 -v engine-data:/app/data hl7-engine

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY codecs ./codecs
COPY actors ./actors
COPY transports ./transports
COPY config ./config
# Resolve and cache every dependency at build time, so the image needs no network at run time.
RUN deno install --entrypoint main.ts && deno check main.ts

FROM denoland/deno:2.9.6
WORKDIR /app
# The dependency cache belongs to the runtime user: Deno writes its code cache there.
COPY --from=build --chown=deno:deno /deno-dir /deno-dir
COPY --from=build /src /app
# KV lives on a volume; the engine runs as the image's unprivileged "deno" user.
RUN mkdir -p /app/data && chown -R deno:deno /app/data
VOLUME ["/app/data"]
USER deno
EXPOSE 8080 9960
# The same entry point and permissions as `deno task start`.
ENTRYPOINT ["deno", "run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "main.ts"]
CMD ["serve", "--config", "config/demo.json"]
