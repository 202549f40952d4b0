#!/usr/bin/env bash
# Steady-state footprint of the agent daemon (`estate-agent run`) reporting to a real
# collector on loopback: peak RSS (VmHWM) and CPU per report, over DURATION seconds with
# a report every INTERVAL seconds. Run as root on the live host for the full inventory.
#
# Usage: bench/agent_daemon.sh [DURATION_SECS=60] [INTERVAL_SECS=5]
# Needs: cargo build --release -p estate-agent -p estate-server
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
interval=${2:-5}
work=$(mktemp -d)
trap 'kill $server_pid $agent_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "enrol-$(date +%s%N)" > "$work/enrolment-token"
cat > "$work/server.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[storage]
sqlite_path = "$work/estate.db"
[auth]
enrolment_token_file = "$work/enrolment-token"
TOML
cat > "$work/agent.toml" <<TOML
[collector]
url = "http://127.0.0.1:$port"
enrolment_token_file = "$work/enrolment-token"
[agent]
state_dir = "$work/agent"
report_interval_secs = $interval
sample_interval_secs = 1
TOML
"${SERVER:-target/release/estate-server}" serve --config "$work/server.toml" >"$work/server.log" 2>&1 &
server_pid=$!
sleep 1
target/release/estate-agent run --config "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent_pid=$!
sleep "$duration"
hwm=$(awk '/VmHWM/ {print $2}' /proc/$agent_pid/status)
rss=$(awk '/VmRSS/ {print $2}' /proc/$agent_pid/status)
anon=$(awk '/RssAnon/ {print $2}' /proc/$agent_pid/status)
file=$(awk '/RssFile/ {print $2}' /proc/$agent_pid/status)
ticks=$(awk '{print $14 + $15}' /proc/$agent_pid/stat)
hz=$(getconf CLK_TCK)
kill -TERM $agent_pid; wait $agent_pid || true
reports=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$work/estate.db?mode=ro', uri=True).execute('select count(*) from series').fetchone()[0])")
cpu_ms=$(( ticks * 1000 / hz ))
echo "duration=${duration}s interval=${interval}s reports_stored=$reports"
echo "VmHWM=${hwm} kB VmRSS=${rss} kB (RssAnon=${anon} kB, RssFile=${file} kB, at ${duration}s)"
echo "CPU=${cpu_ms} ms total, $(( cpu_ms / (reports > 0 ? reports : 1) )) ms per report (sampling every 1 s included)"
