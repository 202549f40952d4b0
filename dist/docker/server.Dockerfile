# syntax=docker/dockerfile:1
# The Estate collector (estate-server) as a container image. Not built in CI; see
# dist/README.md, "Docker images". From the repository root:
#   docker build -f dist/docker/server.Dockerfile -t estate-server .
#   docker run -d --name estate-server -p 8470:8470 \
#     -v estate-data:/var/lib/estate-server \
#     -v "$PWD/enrolment-token:/run/secrets/estate-enrolment-token:ro" estate-server
# The enrolment token file must be readable by uid 10470 (the image's `estate` user).

# --- build: the release binary (fat LTO, see the root Cargo.toml: slow, small) ---------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p estate-server --bin estate-server \
 && install -D -m 0755 target/release/estate-server /out/usr/bin/estate-server

# --- runtime: Debian slim (glibc, as the binary was linked against), no shell tools ---
FROM debian:bookworm-slim
# ca-certificates: PostgreSQL is plain TCP, but TLS client certificates and future
# outbound HTTPS want the system roots; tzdata is not needed (all times are UTC).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10470 estate \
 && useradd --system --uid 10470 --gid estate --home-dir /var/lib/estate-server \
      --no-create-home --shell /usr/sbin/nologin --comment "Estate collector" estate \
 && install -d -m 0700 -o estate -g estate /var/lib/estate-server
COPY --from=build /out/usr/bin/estate-server /usr/bin/estate-server
# The container's config: listens on all interfaces of the container, SQLite in the
# volume, the enrolment token from a mounted secret. Replace it with
# -v my-server.toml:/etc/estate/server.toml:ro (check it: estate-server check-config).
COPY config/docker/server.toml /etc/estate/server.toml
RUN ["/usr/bin/estate-server", "check-config", "/etc/estate/server.toml"]

# Non-root: the collector needs no privilege (port 8470 > 1024, writes only its volume).
USER estate:estate
VOLUME ["/var/lib/estate-server"]
EXPOSE 8470
# Readiness for an orchestrator: GET /readyz (200 when the store answers), /healthz.
# SIGTERM: stop accepting, finish requests in flight, exit 0 (docker stop waits 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/estate-server"]
CMD ["serve", "--config", "/etc/estate/server.toml"]
