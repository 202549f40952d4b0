#!/usr/bin/env bash
# The agent daemon beside node_exporter, same machine, same run (issue 7): steady-state
# RSS of each, and CPU seconds per collection of `estate-agent run` against CPU seconds per
# scrape of node_exporter.
#
#   apt-get install -y prometheus-node-exporter      # Debian's node_exporter
#   cargo build --release -p estate-agent -p estate-server
#   bench/agent_vs_node_exporter.sh [DURATION_SECS=600] [INTERVAL_SECS=15] [SAMPLE_SECS=1]
#
# Both run for DURATION seconds. The agent reports to a real collector on loopback every
# INTERVAL seconds, sampling utilisation every SAMPLE seconds between reports (1 s by
# default here, the most the agent allows; its own default is 10 s, and SAMPLE_SECS =
# INTERVAL_SECS leaves one sample per report, which isolates the report's own cost);
# node_exporter (default collectors) is scraped every INTERVAL seconds by curl,
# like a Prometheus with that scrape interval. Each process's VmRSS is sampled every second
# after a warm-up of two intervals (mean and max), and its CPU time is read at the end:
# with `perf` installed, each process runs under `perf stat -e task-clock` counting from
# the end of the warm-up (nanoseconds, every thread, exited ones too), against the
# reports and scrapes made since; without it, utime + stime from /proc/PID/stat over the
# whole run (10 ms ticks, start-up included). A "collection" of the agent is one report with the
# samples before it; of node_exporter one scrape. Run as root for the agent's full
# inventory (and node_exporter's).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
interval=${2:-15}
sample=${3:-1}
warmup=$((2 * interval))
agent=${AGENT:-target/release/estate-agent}
server=${SERVER:-target/release/estate-server}
node_exporter=${NODE_EXPORTER:-$(command -v prometheus-node-exporter || command -v node_exporter || true)}
if [ -z "$node_exporter" ]; then
    echo "node_exporter not found: apt-get install -y prometheus-node-exporter (or NODE_EXPORTER=path)" >&2
    exit 2
fi
for b in "$agent" "$server"; do
    [ -x "$b" ] || { echo "missing $b: cargo build --release -p estate-agent -p estate-server" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
port=$(free_port)
ne_port=$(free_port)
collector_config "$work" "$port"
agent_config "$work" "$port" "$interval" "$sample"
"$server" serve --config "$work/server.toml" > "$work/server.log" 2>&1 &
pids+=($!)
sleep 1
# Starts "$@" in the background, under `perf stat` when there is perf; sets `started` to
# the process's own pid (perf's child).
perf_stat=$(command -v perf || true)
start() { # name command...
    local name=$1; shift
    if [ -n "$perf_stat" ]; then
        # Counting starts after the warm-up (-D): steady state, as the RSS.
        "$perf_stat" stat -x, -D "$((warmup * 1000))" -e task-clock -o "$work/$name.perf" -- "$@" > "$work/$name.log" 2>&1 &
        local wrapper=$!
        pids+=("$wrapper")
        for _ in $(seq 50); do started=$(pgrep -P "$wrapper" | head -1 || true); [ -n "$started" ] && break; sleep 0.1; done
    else
        "$@" > "$work/$name.log" 2>&1 &
        started=$!
    fi
    pids+=("$started")
}
start agent "$agent" run --config "$work/agent.toml"
agent_pid=$started
start node_exporter "$node_exporter" --web.listen-address="127.0.0.1:$ne_port"
ne_pid=$started
sleep 1

scrapes=0
steady_scrapes=0
scrape_bytes=0
steady_from=$(date -u -d "@$(( $(date +%s) + warmup - 1 ))" +%Y-%m-%dT%H:%M:%S)
for ((t = 1; t <= duration; t++)); do
    sleep 1
    if (( t % interval == 0 )); then
        bytes=$(curl -fsS -o /dev/null -w '%{size_download}' "http://127.0.0.1:$ne_port/metrics")
        scrapes=$((scrapes + 1))
        if (( t > warmup )); then steady_scrapes=$((steady_scrapes + 1)); fi
        scrape_bytes=$bytes
    fi
    echo "$t $(awk '/^VmRSS/ {print $2}' /proc/$agent_pid/status) $(awk '/^VmRSS/ {print $2}' /proc/$ne_pid/status)" >> "$work/rss.txt"
done

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
agent_ticks=$(ticks "$agent_pid")
ne_ticks=$(ticks "$ne_pid")
agent_hwm=$(awk '/^VmHWM/ {print $2}' /proc/$agent_pid/status)
ne_hwm=$(awk '/^VmHWM/ {print $2}' /proc/$ne_pid/status)
kill -TERM "$agent_pid" "$ne_pid"
wait "${pids[@]:1}" 2>/dev/null || true
# Task clock (ms) from perf, as ticks of 1/hz s.
perf_ticks() { awk -F, -v hz="$hz" '$3 == "task-clock" {printf "%.3f", $1 / 1000 * hz}' "$work/$1.perf"; }
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
reports=$(python3 -c "import sqlite3; print(sqlite3.connect('file:$work/estate.db?mode=ro', uri=True).execute('select count(*) from series').fetchone()[0])")
if [ -n "$perf_stat" ]; then
    # Steady state only: CPU after the warm-up, and the reports and scrapes made then.
    agent_ticks=$(perf_ticks agent)
    ne_ticks=$(perf_ticks node_exporter)
    reports=$(python3 -c "import sqlite3; print(sqlite3.connect('file:$work/estate.db?mode=ro', uri=True).execute('select count(*) from series where collected_at >= ?', ('$steady_from',)).fetchone()[0])")
    scrapes=$steady_scrapes
    echo "CPU from perf stat task-clock after the $warmup s warm-up (agent $agent_ticks, node_exporter $ne_ticks ticks of 1/$hz s), reports collected since $steady_from UTC"
fi

python3 - "$work/rss.txt" <<EOF
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
steady = [r for r in rows if r[0] > $warmup]
def stats(i):
    v = [r[i] for r in steady]
    return sum(v) / len(v), max(v)
a_mean, a_max = stats(1)
n_mean, n_max = stats(2)
hz = $hz
a_cpu = $agent_ticks / hz
n_cpu = $ne_ticks / hz
reports, scrapes = $reports, $scrapes
print(f"duration {$duration} s, interval {$interval} s, {len(steady)} samples after a {$warmup} s warm-up")
print(f"estate-agent:  VmRSS mean {a_mean/1024:.1f} MiB, max {a_max/1024:.1f} MiB, VmHWM {$agent_hwm/1024:.1f} MiB; "
      f"CPU {a_cpu:.3f} s for {reports} reports = {1000*a_cpu/max(reports,1):.1f} ms per collection (sampling every {$sample} s included)")
print(f"node_exporter: VmRSS mean {n_mean/1024:.1f} MiB, max {n_max/1024:.1f} MiB, VmHWM {$ne_hwm/1024:.1f} MiB; "
      f"CPU {n_cpu:.3f} s for {scrapes} scrapes = {1000*n_cpu/max(scrapes,1):.1f} ms per scrape ({$scrape_bytes} bytes each)")
print(f"ratios: RSS agent/node_exporter {a_mean/n_mean:.2f} (target <= 0.5); "
      f"CPU per collection / per scrape {(a_cpu/max(reports,1))/(n_cpu/max(scrapes,1)):.2f} (target <= 1)")
EOF
