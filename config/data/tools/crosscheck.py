#!/usr/bin/env python3
"""Cross-check config/data/cpu-power.toml against the reference data (read, not shipped).

Usage: python3 config/data/tools/crosscheck.py [PATH/TO/shared/reference/data]

- TDP, cores and threads against Boavizta's crowdsourced cpu_specs.csv (AGPL-3.0: used
  only to compare; nothing is copied from it). A difference is printed; the vendor's base
  figure in cpu-power.toml is kept (Boavizta sometimes records a configurable TDP-up).
- The microarchitecture against the CCF CPU lists (ccf-coefficients data/*.csv), where the
  model appears in one; `uarch_source` must say `ccf-lists` exactly when it does.

Exit status 1 when a row's microarchitecture disagrees with CCF's list or its
uarch_source is wrong; TDP differences are reported only.
"""
import csv
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REF = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / ".." / "shared" / "reference" / "data"

CCF_LISTS = {
    "intel-sandybridge": "Sandy Bridge", "intel-ivybridge": "Ivy Bridge", "intel-haswell": "Haswell",
    "intel-broadwell": "Broadwell", "intel-skylake": "Skylake", "intel-skylake-server": "Skylake",
    "intel-skylake-client": "Skylake", "intel-cascadelake": "Cascade Lake", "intel-coffeelake": "Coffee Lake",
    "intel-icelake": "Ice Lake", "intel-sapphirerapids": "Sapphire Rapids", "intel-emeraldrapids": "Emerald Rapids",
    "intel-graniterapids": "Granite Rapids", "amd-epyc-gen1": "EPYC 1st Gen", "amd-epyc-gen2": "EPYC 2nd Gen",
    "amd-epyc-gen3": "EPYC 3rd Gen", "amd-epyc-gen4": "EPYC 4th Gen", "amd-epyc-gen5": "EPYC 5th Gen",
}

def main():
    cpus = tomllib.loads((HERE.parent / "cpu-power.toml").read_text())["cpu"]
    boavizta = {}
    with open(REF / "boavizta" / "cpu_specs.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            boavizta[r["name"].lower()] = r
    ccf = {}
    for name, uarch in CCF_LISTS.items():
        for line in (REF / "ccf" / f"{name}.csv").read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                ccf.setdefault(line.strip().lower(), set()).add(uarch)

    failed = False
    compared = differ = in_ccf = 0
    for c in cpus:
        model = c["model"]
        b = boavizta.get(f"{c['vendor']} {model}".lower())
        if b:
            compared += 1
            def num(x):
                try:
                    return float(x)
                except ValueError:
                    return None
            theirs = (num(b["cores"]), num(b["threads"]), num(b["tdp"]))
            ours = (c["cores"], c["threads"], c["tdp_watts"])
            if any(t is not None and t != o for t, o in zip(theirs, ours)):
                differ += 1
                print(f"differs from Boavizta: {model}: ours cores/threads/TDP {ours}, theirs {theirs}")
        key = model.lower().removeprefix("xeon ")
        listed = ccf.get(key) or ccf.get(model.lower())
        if listed:
            in_ccf += 1
            if c["microarchitecture"] not in listed:
                print(f"microarchitecture: {model}: ours {c['microarchitecture']}, CCF lists {sorted(listed)}")
                if c["uarch_source"] == "ccf-lists":
                    failed = True
        if (c["uarch_source"] == "ccf-lists") != bool(listed and c["microarchitecture"] in listed):
            print(f"uarch_source of {model} should be {'ccf-lists' if listed else 'vendor-codename'}")
            failed = True
    print(f"{len(cpus)} models; {compared} compared with Boavizta, {differ} differ; {in_ccf} in CCF's lists")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
