#!/usr/bin/env bash
# Soak (issue 8): the fleet simulator drives HOSTS agents against one collector for
# DURATION seconds, each reporting every INTERVAL seconds (its first report with the full
# inventory), and the run must end with no error of any kind. Release builds, durable
# SQLite store, the assessment worker running beside ingest.
#
#   cargo build --release -p estate-server -p estate-agent
#   bench/simulate_soak.sh [HOSTS=10000] [DURATION_SECS=600] [INTERVAL_SECS=60]
#
# Prints the simulator's summary (JSON), the collector's RSS at the end, and exits 1 when
# the simulator saw any error, rejection or retry.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-10000}
duration=${2:-600}
interval=${3:-60}
bin=${BIN:-target/release}
for b in estate-server estate-agent; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b: cargo build --release -p estate-server -p estate-agent" >&2; exit 2; }
done
work=$(mktemp -d)
server_pid=
trap 'kill $server_pid 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
port=$(free_port)
collector_config "$work" "$port"
"$bin/estate-server" serve --config "$work/server.toml" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && break; sleep 0.1; done
echo "simulate_soak: $hosts hosts, every $interval s, for $duration s, $(nproc) cores"
"$bin/estate-agent" simulate --hosts "$hosts" --interval-secs "$interval" --duration-secs "$duration" \
    --concurrency 64 --json --progress-secs 60 \
    --collector "http://127.0.0.1:$port" --enrolment-token-file "$work/enrolment-token" \
    > "$work/summary.json" 2> "$work/simulate.log"
cat "$work/summary.json"; echo
rss=$(awk '/^VmRSS/ {print $2}' /proc/$server_pid/status)
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$server_pid/status)
echo "collector: VmRSS $((rss / 1024)) MiB, VmHWM $((hwm / 1024)) MiB"
python3 - "$work/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
bad = {k: s.get(k) for k in ("rejected", "retried") if s.get(k)}
bad.update({f"report_errors.{k}": v for k, v in (s.get("report_errors") or {}).items()})
bad.update({f"enrol_errors.{k}": v for k, v in (s.get("enrol_errors") or {}).items()})
print(f"acknowledged {s['acknowledged']} of {s['sent']} sent ({s['acknowledged_per_second']:.0f}/s), "
      f"p50 {s['latency_p50_ms']:.1f} ms, p99 {s['latency_p99_ms']:.1f} ms, max {s['latency_max_ms']:.1f} ms")
if bad or s["acknowledged"] != s["sent"]:
    print(f"ERRORS: {bad}")
    sys.exit(1)
print("no errors")
EOF
