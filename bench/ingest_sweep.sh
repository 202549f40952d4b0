#!/usr/bin/env bash
# Ingest ceiling (issue 7): reports/s and p50/p90/p99 latency at increasing concurrency,
# into SQLite (WAL, synchronous = FULL) and PostgreSQL, without and with the full
# inventory, beside an HTTP echo of the same payloads through the same HTTP stack. Runs
# server/examples/ingest_bench.rs (release) and prints one markdown table per backend;
# docs/benchmarks.md, "Collector: ingest", has the figures and how to read them.
#
#   bench/ingest_sweep.sh                    # 10 s per run, clients 1,8,32,64,128, 1,000 hosts
#   bench/ingest_sweep.sh 5 32,64            # SECONDS CLIENTS [HOSTS] [FULL_REPORT.json]
#   INGEST_BACKENDS=sqlite bench/ingest_sweep.sh
#   INGEST_MODES=echo,regular bench/ingest_sweep.sh
#
# PostgreSQL: ESTATE_BENCH_POSTGRES_URL, else ESTATE_TEST_POSTGRES_URL, is used as it is
# (a role that may create schemas in its database; each run works in a fresh schema,
# dropped at its end). With neither set, and PostgreSQL 15 installed here, the local
# cluster is started if it is not running and the role and database `.ci/run` creates
# for the store tests (estate_test) are created if missing — as root or through sudo.
# Without PostgreSQL the PostgreSQL table is skipped.
#
# Client, collector and PostgreSQL share the machine's cores: note the load average
# (printed at the start and the end) and compare reports/s with the echo of the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PG_VERSION=${PG_VERSION:-15}
if [ -z "${ESTATE_BENCH_POSTGRES_URL:-}" ] && [ -z "${ESTATE_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_ctlcluster >/dev/null; then
    as_root pg_ctlcluster "$PG_VERSION" main status >/dev/null 2>&1 \
      || as_root pg_ctlcluster "$PG_VERSION" main start
    pg_sql() { (cd / && as_root runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 "$@"); }
    if [ "$(pg_sql -c "SELECT count(*) FROM pg_roles WHERE rolname = 'estate_test'")" = 0 ]; then
      pg_sql -c "CREATE ROLE estate_test LOGIN PASSWORD 'estate-test'"
    fi
    if [ "$(pg_sql -c "SELECT count(*) FROM pg_database WHERE datname = 'estate_test'")" = 0 ]; then
      pg_sql -c "CREATE DATABASE estate_test OWNER estate_test"
    fi
    export ESTATE_BENCH_POSTGRES_URL="postgres://estate_test:estate-test@127.0.0.1:5432/estate_test"
  else
    echo "PostgreSQL is not installed: only SQLite is measured" >&2
  fi
fi

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo run --release -p estate-server --example ingest_bench -- \
  "${1:-10}" "${2:-1,8,32,64,128}" "${3:-1000}" ${4:+"$4"}
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
