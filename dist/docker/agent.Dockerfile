# syntax=docker/dockerfile:1
# The Estate agent (estate-agent) as a container image. Not built in CI; see
# dist/README.md, "Docker images" — a container sees its own little world, so the agent
# must be given the host's: its root filesystem read-only, its PID and network
# namespaces. From the repository root:
#   docker build -f dist/docker/agent.Dockerfile -t estate-agent .
#   docker run -d --name estate-agent --pid=host --network=host --uts=host \
#     -v /:/host:ro,rslave \
#     -v estate-agent-state:/var/lib/estate-agent \
#     -v /etc/estate/agent.toml:/etc/estate/agent.toml:ro \
#     -v /etc/estate/enrolment-token:/etc/estate/enrolment-token:ro \
#     estate-agent
# Once, to see what it sees: docker run --rm --pid=host --network=host --uts=host \
#     -v /:/host:ro,rslave estate-agent collect --root /host --pretty

# --- build: the release binary (fat LTO, see the root Cargo.toml: slow, small) ---------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p estate-agent --bin estate-agent \
 && install -D -m 0755 target/release/estate-agent /out/usr/bin/estate-agent

# --- runtime ---------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: the system roots for an https:// collector (and HTTPS probes).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -m 0700 /var/lib/estate-agent
COPY --from=build /out/usr/bin/estate-agent /usr/bin/estate-agent
COPY config/deb/agent.toml /etc/estate/agent.toml
RUN ["/usr/bin/estate-agent", "check-config", "/etc/estate/agent.toml"]

# Root, as the systemd unit: serial numbers, RAPL counters and other users' processes'
# /proc/PID/fd are root-only on Linux. Everything of the host is mounted read-only;
# the only writable place is the state volume. Drop what the agent does not need with
# --cap-drop=ALL --cap-add=DAC_READ_SEARCH --cap-add=SYS_PTRACE (the unit's set).
USER root
# As the unit: fewer glibc malloc arenas, a smaller resident set (dist/systemd/estate-agent.service).
ENV MALLOC_ARENA_MAX=2
VOLUME ["/var/lib/estate-agent"]
# SIGTERM: a final report and one flush (up to 10 s): docker stop --time 20.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/estate-agent"]
# --root /host: /proc, /sys, /etc/os-release, /etc/machine-id, the package databases,
# unit files and the D-Bus socket are read under the host's root mounted at /host.
CMD ["run", "--config", "/etc/estate/agent.toml", "--root", "/host"]
