#!/usr/bin/env bash
# The HTML report in a real browser: builds the report of a 200-host synthetic estate
# (server/examples/report_bench.rs, seeded: the same every run), opens it in headless
# Chromium through the DevTools protocol (bench/report_check.py) and fails on any
# console error, uncaught exception or network request other than the file itself.
# Writes the screenshot docs/images/report.png (the first screens).
#
#   bench/report_check.sh [HOSTS]        (needs Debian's chromium: apt-get install chromium)
#
# Exit status: 0 clean; 1 a problem was found (each is printed); 2 it could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts="${1:-200}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  echo "report_check: no chromium (Debian: apt-get install chromium)" >&2
  exit 2
fi
nice -n 19 cargo run --quiet -p estate-server --example report_bench -- \
  --hosts "$hosts" --out "$out/report.html"
python3 bench/report_check.py "$out/report.html" docs/images/report.png --height 2400
