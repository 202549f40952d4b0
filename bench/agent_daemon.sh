#!/usr/bin/env bash
# Steady-state footprint of the agent daemon (`estate-agent run`) reporting to a real
# collector on loopback, over DURATION seconds with a report every INTERVAL seconds:
#
#   - peak RSS (VmHWM) at the end, and VmRSS sampled every second after a warm-up of
#     WARMUP seconds (default: two report intervals): mean and max;
#   - threads (at the end, and the most seen by the 1 s sampler);
#   - where the resident memory is, per mapping, from /proc/PID/smaps at the end: the
#     binary's pages (code, read-only data, data), each shared library, the heap, and the
#     other anonymous mappings (thread stacks, mmap'd allocations);
#   - CPU per report (user + system, sampling included).
#
# Run as root on the live host for the full inventory. AGENT and SERVER override the
# binaries; AGENT_ENV adds environment to the agent alone (e.g.
# AGENT_ENV='GLIBC_TUNABLES=glibc.malloc.trim_threshold=0').
#
# Usage: bench/agent_daemon.sh [DURATION_SECS=60] [INTERVAL_SECS=5] [WARMUP_SECS=2*INTERVAL]
# Needs: cargo build --release -p estate-agent -p estate-server
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
interval=${2:-5}
warmup=${3:-$((2 * interval))}
agent=${AGENT:-target/release/estate-agent}
server=${SERVER:-target/release/estate-server}
work=$(mktemp -d)
server_pid=
agent_pid=
# KEEP=1 keeps the work directory (logs, the 1 s samples in rss.txt, smaps) and says where.
trap 'kill $server_pid $agent_pid 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
port=$(free_port)
collector_config "$work" "$port"
agent_config "$work" "$port" "$interval"
"$server" serve --config "$work/server.toml" >"$work/server.log" 2>&1 &
server_pid=$!
sleep 1
# shellcheck disable=SC2086 # AGENT_ENV is a list of NAME=VALUE words
env ${AGENT_ENV:-} "$agent" run --config "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent_pid=$!

# One line a second: elapsed, VmRSS (kB), threads.
for ((t = 1; t <= duration; t++)); do
    sleep 1
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$agent_pid/status)
    threads=$(awk '/^Threads/ {print $2}' /proc/$agent_pid/status)
    echo "$t $rss $threads" >> "$work/rss.txt"
done

# The snapshot below is taken half an interval later, between two reports.
sleep $(( interval / 2 ))
status=/proc/$agent_pid/status
hwm=$(awk '/^VmHWM/ {print $2}' $status)
rss=$(awk '/^VmRSS/ {print $2}' $status)
anon=$(awk '/^RssAnon/ {print $2}' $status)
file=$(awk '/^RssFile/ {print $2}' $status)
threads=$(awk '/^Threads/ {print $2}' $status)
ticks=$(awk '{print $14 + $15}' /proc/$agent_pid/stat)
cp /proc/$agent_pid/smaps "$work/smaps"
exe=$(readlink /proc/$agent_pid/exe)
hz=$(getconf CLK_TCK)
kill -TERM $agent_pid; wait $agent_pid || true
kill -TERM $server_pid; wait $server_pid || true
reports=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$work/estate.db?mode=ro', uri=True).execute('select count(*) from series').fetchone()[0])")
cpu_ms=$(( ticks * 1000 / hz ))
echo "agent=$agent duration=${duration}s interval=${interval}s warmup=${warmup}s reports_stored=$reports"
echo "VmHWM=${hwm} kB VmRSS=${rss} kB (RssAnon=${anon} kB, RssFile=${file} kB, between reports at the end) threads=${threads}"
awk -v w="$warmup" '$1 > w { n++; s += $2; if ($2 > m) m = $2 } $3 > tm { tm = $3 }
    END { if (n) printf "VmRSS after %ss warm-up, sampled every 1 s: mean=%d kB max=%d kB (n=%d); most threads seen=%d\n", w, s / n, m, n, tm }' "$work/rss.txt"
echo "CPU=${cpu_ms} ms total, $(( cpu_ms / (reports > 0 ? reports : 1) )) ms per report (sampling every 1 s included)"
# Resident kB per mapping group. Thread stacks and large allocations are anonymous
# mappings; the binary's r-xp mapping is its code, r--p its read-only data.
awk -v exe="$exe" '
    /^[0-9a-f]+-[0-9a-f]+ / {
        perms = $2; name = $6
        if (name == exe) {
            if (perms ~ /x/) { group = "binary: code"; seen_code = 1 }
            else if (perms ~ /w/) group = "binary: data"
            else if (seen_code) group = "binary: relro (relocated constants, vtables)"
            else group = "binary: rodata (constants, unwind tables, relocations)"
        }
        else if (name ~ /^\//) { sub(".*/", "", name); group = name }
        else if (name == "") group = "anon (thread stacks, mmap)"
        else group = name
        next
    }
    /^Rss:/ { kb[group] += $2 }
    END { for (g in kb) if (kb[g] > 0) printf "  %6d kB  %s\n", kb[g], g }' "$work/smaps" | sort -rn
