#!/usr/bin/env bash
# Builds the fuzz targets and runs them.
#   fuzz/run.sh                    build every target, run each for 60 s (CI: FUZZ_SECONDS=15)
#   fuzz/run.sh report 600         run one target for 600 s
#   FUZZ_RUNS=10000000 fuzz/run.sh facts   run one target for 10 million executions
# With cargo-fuzz installed (`cargo install cargo-fuzz`) it builds through `cargo fuzz`;
# without it, through plain cargo with the same sanitizer-coverage flags. Either way on
# the stable toolchain and without AddressSanitizer (`-s none`): the code under test is
# safe Rust plus SQLite's C, which these targets do not reach.
# Corpora grow in fuzz/corpus/TARGET (not in git), seeded from fuzz/seeds/TARGET; a crash
# is written to fuzz/artifacts/TARGET. Keep each fixed crash in fuzz/regressions/TARGET:
# `cargo test -p estate-server --test fuzz_regressions` replays them.
# Exits non-zero when a target crashes, times out, runs out of memory or does not run at
# all (every target is run first; the failures are listed at the end). Each run's whole
# libFuzzer log is kept in fuzz/artifacts/TARGET/last-run.log. CARGO_TARGET_DIR is
# honoured (relative to fuzz/).
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(report config checks facts)
HOST=$(rustc -vV | sed -n 's/^host: //p')
if [ $# -ge 1 ]; then TARGETS=("$1"); fi
SECONDS_EACH=${2:-${FUZZ_SECONDS:-60}}

if cargo fuzz --version >/dev/null 2>&1; then
  echo "building with $(cargo fuzz --version)"
  if [ $# -ge 1 ]; then
    cargo fuzz build -s none --release --debug-assertions "$1"
  else
    cargo fuzz build -s none --release --debug-assertions
  fi
else
  echo "cargo-fuzz is not installed: building with cargo and the sanitizer-coverage flags"
  RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
    cargo build --release --target "$HOST" --bins
fi
BIN=${CARGO_TARGET_DIR:-target}/$HOST/release

failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds+=("seeds/$t")
  [ -d "regressions/$t" ] && seeds+=("regressions/$t")
  dict=()
  [ -f "dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
  # Inputs up to 64 KiB (a report, a config), but 8 KiB for `checks`: one check with
  # its fixtures is under 6 KiB (its seeds are one check each), and whole catalogues
  # ran at ~300 executions/s, too slow for a 10-million-execution campaign.
  max_len=65536
  [ "$t" = checks ] && max_len=8192
  limit=(-max_total_time="$SECONDS_EACH")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  log="artifacts/$t/last-run.log"
  started=$(mktemp)
  echo "=== $t ==="
  # libFuzzer exits non-zero on a crash (a panic aborts), a timeout or an OOM; the exit
  # status is what counts, not the filtered output below.
  rc=0
  "$BIN/$t" "corpus/$t" "${seeds[@]}" "${dict[@]}" "${limit[@]}" \
    -artifact_prefix="artifacts/$t/" -max_len="$max_len" -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E "^(#[0-9]+\s+DONE|stat::|==[0-9]+== ERROR|SUMMARY|Done)|panicked|Test unit written" "$log" || true
  written=$(find "artifacts/$t" -type f -newer "$started" \
    \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | sort)
  rm -f "$started"
  if [ "$rc" -ne 0 ] || [ -n "$written" ]; then
    echo "FAILED: $t (exit status $rc); the end of fuzz/$log:"
    tail -n 30 "$log"
    [ -n "$written" ] && printf 'input written: fuzz/%s\n' $written
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproduce in fuzz/: $BIN/TARGET artifacts/TARGET/crash-...)"
  exit 1
fi
