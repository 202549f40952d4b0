#!/usr/bin/env bash
# 100,000 simulated hosts on one collector (issue 7): the collector's resident memory,
# `/metrics` with per-host series off and on, a full re-score of the estate, and the estate
# report from the store, measured on release builds with the fleet simulator.
#
#   cargo build --release -p estate-server -p estate-agent
#   bench/estate_100k.sh                 # HOSTS=100000 by default
#   HOSTS=20000 bench/estate_100k.sh     # a quicker run
#
# Steps, each timed:
#   1. start a collector on a fresh SQLite store (durable: WAL, synchronous = FULL);
#   2. load the estate: `estate-agent simulate --hosts N --once` (every host enrols and sends
#      one report with its full inventory), then wait for the assessment worker to score
#      every host (checks, carbon estimate);
#   3. collector RSS (VmRSS, VmHWM) with the estate loaded and scored;
#   4. full re-score: POST /api/v1/admin/reload and wait until every host is assessed again;
#   5. /metrics with per_host off: the reload invalidated the estate view, so the first
#      scrape after it recomputes it (from the estate index, while the re-score runs), the
#      next is served from it; the exposition's size;
#   6. restart the collector (per_host off): the first scrape waits for the estate index to
#      be read from the store; memory after the start-up re-score;
#   7. restart the collector with per_host on and scrape /metrics again (after its start-up
#      re-score has finished, so the scrape does not share the CPU with it);
#   8. the estate report from the store: `estate-server report --format html`, end to end
#      (process start, reading every host and its stored assessment, the model, the file).
#
# Output: one line per measure, then a JSON summary on the last line. The work directory
# (store, logs) is removed at the end unless KEEP=1.
set -euo pipefail

HOSTS=${HOSTS:-100000}
CONCURRENCY=${CONCURRENCY:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
for b in estate-server estate-agent; do
    if [ ! -x "$BIN/$b" ]; then
        echo "missing $BIN/$b: cargo build --release -p estate-server -p estate-agent" >&2
        exit 2
    fi
done

WORK=$(mktemp -d /tmp/estate-100k.XXXXXX)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/enrol-token"
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/admin-token"

write_config() { # per_host
    cat > "$WORK/server.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"

[storage]
sqlite_path = "$WORK/estate.db"

[auth]
enrolment_token_file = "$WORK/enrol-token"
admin_token_file = "$WORK/admin-token"

[metrics]
enabled = true
per_host = $1
# The waits below poll /metrics for the assessment counters; a long refresh keeps those
# polls from recomputing the estate view each time. A reload invalidates the view.
refresh_secs = 3600
EOF
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

start_server() {
    "$BIN/estate-server" serve --config "$WORK/server.toml" >> "$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if curl -fsS "$URL/readyz" > /dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "the collector did not start; see $WORK/server.log" >&2
    tail -20 "$WORK/server.log" >&2
    exit 1
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# estate_assessments_total{outcome="stored"} (0 when absent).
assessed() {
    curl -fsS "$URL/metrics" | awk '/^estate_assessments_total\{outcome="stored"\}/ {print $2; f=1} END {if (!f) print 0}'
}

# Waits until `assessed` reaches $1; prints nothing.
wait_assessed() {
    local target=$1
    while :; do
        local n
        n=$(assessed)
        if python3 -c "import sys; sys.exit(0 if float('$n') >= $target else 1)"; then return 0; fi
        sleep 0.5
    done
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

# Times one scrape; prints "seconds bytes".
scrape() {
    curl -fsS -o "$WORK/metrics.txt" -w '%{time_total} %{size_download}\n' "$URL/metrics"
}

echo "estate_100k: $HOSTS hosts, $(nproc) cores, $(uname -r), work dir $WORK"
write_config false
start_server

t0=$(now)
"$BIN/estate-agent" simulate --hosts "$HOSTS" --once --concurrency "$CONCURRENCY" --json \
    --progress-secs 0 --collector "$URL" --enrolment-token-file "$WORK/enrol-token" \
    > "$WORK/simulate.json" 2> "$WORK/simulate.log"
t1=$(now)
load_secs=$(secs "$t0" "$t1")
acked=$(python3 -c "import json; print(json.load(open('$WORK/simulate.json')).get('acknowledged', 'n/a'))")
echo "load:      $HOSTS hosts enrolled and reported with inventory in $load_secs s (acknowledged $acked)"
wait_assessed "$HOSTS"
t2=$(now)
assess_secs=$(secs "$t0" "$t2")
echo "assessed:  every host scored and estimated $assess_secs s after the load began"

sleep 2
rss=$(rss_kib); hwm=$(hwm_kib)
echo "memory:    collector VmRSS $((rss / 1024)) MiB, VmHWM $((hwm / 1024)) MiB"
db_mb=$(du -sm "$WORK" | awk '{print $1}')
echo "disk:      $db_mb MB (store with WAL, logs)"

before=$(assessed)
t3=$(now)
curl -fsS -X POST -H "Authorization: Bearer $(cat "$WORK/admin-token")" "$URL/api/v1/admin/reload" > /dev/null
read -r cold cold_bytes < <(scrape)
read -r warm warm_bytes < <(scrape)
echo "metrics:   per_host off: ${cold} s recomputed (during the re-score), ${warm} s cached, $cold_bytes bytes"
wait_assessed "$(python3 -c "print($before + $HOSTS)")"
t4=$(now)
rescore_secs=$(secs "$t3" "$t4")
echo "re-score:  every host assessed again after a reload in $rescore_secs s"
rss_after=$(rss_kib); hwm_after=$(hwm_kib)
echo "memory:    after the re-score VmRSS $((rss_after / 1024)) MiB, VmHWM $((hwm_after / 1024)) MiB"

# A restart: the first scrape waits for the estate index to be read from the store
# (beside the start-up re-score).
stop_server
start_server
read -r index_start _ < <(scrape)
echo "metrics:   per_host off, first scrape after a restart (builds the estate index): ${index_start} s"
wait_assessed "$HOSTS" # the start-up re-score
rss_restart=$(rss_kib); hwm_restart=$(hwm_kib)
echo "memory:    after a restart and its re-score, per_host off: VmRSS $((rss_restart / 1024)) MiB, VmHWM $((hwm_restart / 1024)) MiB"

stop_server
write_config true
start_server
wait_assessed "$HOSTS" # the start-up re-score
curl -fsS -X POST -H "Authorization: Bearer $(cat "$WORK/admin-token")" "$URL/api/v1/admin/reload" > /dev/null
read -r cold_ph cold_ph_bytes < <(scrape)
read -r warm_ph warm_ph_bytes < <(scrape)
echo "metrics:   per_host on: ${cold_ph} s recomputed, ${warm_ph} s cached, $cold_ph_bytes bytes"
rss_ph=$(rss_kib); hwm_ph=$(hwm_kib)
echo "memory:    per_host on, after its start-up re-score: VmRSS $((rss_ph / 1024)) MiB, VmHWM $((hwm_ph / 1024)) MiB"
stop_server

t5=$(now)
"$BIN/estate-server" report --config "$WORK/server.toml" --format html --out "$WORK/report.html" \
    > "$WORK/report.log" 2>&1
t6=$(now)
report_secs=$(secs "$t5" "$t6")
report_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$WORK/report.html\") / 1e6:.1f}')")
echo "report:    estate-server report --format html in $report_secs s ($report_mb MB)"

python3 - <<EOF
import json
print(json.dumps({
    "hosts": $HOSTS, "load_secs": $load_secs, "assessed_secs": $assess_secs,
    "rss_mib": $rss // 1024, "hwm_mib": $hwm // 1024,
    "rss_after_rescore_mib": $rss_after // 1024, "hwm_after_rescore_mib": $hwm_after // 1024,
    "metrics_per_host_off_secs": $cold, "metrics_per_host_off_cached_secs": $warm,
    "metrics_first_scrape_after_restart_secs": $index_start,
    "rss_after_restart_mib": $rss_restart // 1024, "hwm_after_restart_mib": $hwm_restart // 1024,
    "metrics_per_host_on_secs": $cold_ph, "metrics_per_host_on_cached_secs": $warm_ph,
    "metrics_per_host_on_bytes": $cold_ph_bytes,
    "rescore_secs": $rescore_secs, "report_secs": $report_secs, "disk_mb": $db_mb,
}))
EOF
