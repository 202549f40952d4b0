#!/usr/bin/env bash
# CPU time of each agent collector on this machine: `estate-agent collect --burst-ms 0` run
# RUNS times with only that collector enabled, against a run with none (process start,
# config, JSON out). Where a report's CPU goes, before optimising (issue 7).
#
#   cargo build --release -p estate-agent
#   bench/agent_collectors.sh [RUNS=20]
#
# CPU is perf's task-clock (user + system, all threads) per process, so the figures are
# not blurred by the 10 ms resolution of rusage. Each collector runs in a fresh process:
# its caches (package databases, socket owners) start empty, so this is the cost of a
# first collection; the daemon's later reports reuse them (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
agent=${AGENT:-target/release/estate-agent}
[ -x "$agent" ] || { echo "missing $agent: cargo build --release -p estate-agent" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf not found: apt-get install -y linux-perf" >&2; exit 2; }
names="os hardware cpu memory disks filesystems network software services listening security gpus power utilisation probes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

config() { # the one collector to keep ("none": all off, "all": all on)
    [ "$1" = all ] && return 0
    echo "[collectors]"
    for n in $names; do
        [ "$n" = "$1" ] || echo "$n = false"
    done
}

median_ms() { # task-clock of RUNS runs with the config given → median in ms
    local samples=()
    for _ in $(seq "$runs"); do
        samples+=("$(perf stat -x, -e task-clock "$agent" collect --config "$1" --burst-ms 0 \
            2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}')")
    done
    printf '%s\n' "${samples[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.2f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

config none > "$work/none.toml"
base=$(median_ms "$work/none.toml")
printf '%-12s %10s %10s\n' collector "CPU ms" "less base"
printf '%-12s %10s %10s\n' "(none)" "$base" "-"
for only in all $names; do
    config "$only" > "$work/$only.toml"
    ms=$(median_ms "$work/$only.toml")
    printf '%-12s %10s %10.2f\n' "$only" "$ms" "$(echo "$ms - $base" | bc -l)"
done
