# syntax=docker/dockerfile:1
# The flexcord image: `docker build -t flexcord .` (docs/deploy.md). CI runs hadolint on this
# file and the build command below (`cargo build --release -p flexcord --no-default-features`).

# The toolchain CI tests with.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# Release build without the `demo` feature (no emulators in the image). The caches keep crates
# and compiled dependencies between builds. The release profile keeps line tables for
# backtraces; compressing them makes the binary about 80 MB instead of 210 MB, and backtraces
# still name files and lines.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p flexcord --no-default-features \
    && install -D -m 0755 target/release/flexcord /out/usr/local/bin/flexcord \
    && objcopy --compress-debug-sections=zlib /out/usr/local/bin/flexcord \
    && install -d -m 0750 /out/var/lib/flexcord

# glibc, CA certificates and a non-root user (65532), nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/flexcord /usr/local/bin/flexcord
COPY --from=build --chown=65532:65532 /out/var/lib/flexcord /var/lib/flexcord
USER 65532:65532
WORKDIR /var/lib/flexcord
# Webhooks (and the cases pages) on 8080, behind the TLS reverse proxy; /metrics, /healthz and
# /readyz on 9090 for Prometheus and the orchestrator. SQLite by default, on the volume; set
# FLEXCORD_STORE__URL (or FLEXCORD_STORE__URL_FILE) to a postgres:// URL for several instances.
ENV FLEXCORD_SERVER__LISTEN=0.0.0.0:8080 \
    FLEXCORD_SERVER__ADMIN_LISTEN=0.0.0.0:9090 \
    FLEXCORD_STORE__URL=sqlite:///var/lib/flexcord/flexcord.db \
    FLEXCORD_LOG_FORMAT=json
VOLUME ["/var/lib/flexcord"]
EXPOSE 8080 9090
# No curl in the image: the binary probes itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/flexcord", "healthcheck", "--url", "http://127.0.0.1:9090/healthz", "--timeout", "4s"]
# SIGTERM drains within server.shutdown_grace (10 s); give `docker stop` a longer timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/flexcord"]
CMD ["run"]
