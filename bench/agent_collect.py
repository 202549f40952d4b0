#!/usr/bin/env python3
"""Footprint of one `estate-agent collect`: peak RSS and CPU time, over N runs.

Needs GNU time (`apt-get install time`).

Usage: bench/agent_collect.py [--runs N] [--binary PATH] [--burst-ms MS]

Builds nothing: run `cargo build --release -p estate-agent` first. Each run is a fresh
process; its peak RSS (ru_maxrss) and user+system CPU come from wait4(2). The sampling
burst sleeps, so CPU time is the collection work itself; `--burst-ms 0` shows it alone.
Prints a Markdown table row per statistic, ready for docs/benchmarks.md.
"""
import argparse
import os
import resource
import subprocess
import statistics
import sys
import tempfile
import time


def run_once(binary, burst_ms, config):
    # Peak RSS comes from GNU time, a small C parent: Linux carries a parent's peak RSS
    # at fork/vfork time into the child's ru_maxrss, so a Python parent would charge its
    # own ~15 MiB to the agent. CPU comes from this process's RUSAGE_CHILDREN deltas
    # (microsecond resolution; GNU time prints only centiseconds).
    with tempfile.NamedTemporaryFile("r", suffix=".time") as rss_file:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss_file.name,
             binary, "collect", "--config", config, "--burst-ms", str(burst_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_kib = int(rss_file.read().split()[-1])
    cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000.0
    return rss_kib / 1024.0, cpu_ms, wall * 1000.0, len(proc.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--binary", default="target/release/estate-agent")
    parser.add_argument("--burst-ms", type=int, default=1000)
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="estate-bench-")
    config = os.path.join(state, "agent.toml")
    with open(config, "w") as f:
        f.write(f'[agent]\nstate_dir = "{state}"\n')
    run_once(args.binary, args.burst_ms, config)  # warm the page cache
    rows = [run_once(args.binary, args.burst_ms, config) for _ in range(args.runs)]
    rss = [r[0] for r in rows]
    cpu = [r[1] for r in rows]
    wall = [r[2] for r in rows]
    size = rows[-1][3]
    print(f"runs={args.runs} burst_ms={args.burst_ms} report_bytes={size}")
    print("| statistic | median | max |")
    print("|---|---|---|")
    print(f"| peak RSS (MiB) | {statistics.median(rss):.1f} | {max(rss):.1f} |")
    print(f"| CPU user+sys (ms) | {statistics.median(cpu):.1f} | {max(cpu):.1f} |")
    print(f"| wall (ms) | {statistics.median(wall):.0f} | {max(wall):.0f} |")


if __name__ == "__main__":
    main()
