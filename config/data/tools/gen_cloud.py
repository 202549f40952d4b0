#!/usr/bin/env python3
"""Generate config/data/cloud-{aws,azure,gcp}.toml from the Cloud Carbon Footprint data.

Usage: python3 config/data/tools/gen_cloud.py PATH/TO/ccf  (the folder holding the
ccf-coefficients CSVs, e.g. ../shared/reference/data/ccf)

The TOML files are the committed truth; this script records how they were made. Instance
sizes (vCPUs, memory) come from the CCF/Teads lists; platforms (the host an instance runs
on: CPU, sockets, vCPUs, memory, local drives, for the embodied share) from the same lists'
platform columns, with the corrections noted in PLATFORMS. Families CCF does not cover
(Azure v5) are listed by hand from the provider's documentation, as noted.
"""
import csv
import math
import sys
from pathlib import Path

CCF = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/data/ccf")
OUT = Path(__file__).resolve().parent.parent

def rows(name):
    with open(CCF / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))

def num(s):
    return float(str(s).replace(",", "."))

# platform id -> (cpu, [microarchitectures], sockets, vcpus, memory_gib, ssds, hdds, source, note)
PLATFORMS = {
  "aws": {
    "m5": ("Xeon Platinum 8175M", ["Skylake"], 2, 96, 384, 0, 0, "ccf-aws-instances", "m5.24xlarge host"),
    "c5": ("Xeon Platinum 8124M", ["Skylake"], 2, 72, 144, 0, 0, "ccf-aws-instances", "c5.18xlarge host"),
    "c5-cascadelake": ("Xeon Platinum 8275CL", ["Cascade Lake"], 2, 96, 192, 0, 0, "aws-ec2-types", "c5.12xlarge and c5.24xlarge run on 2nd generation Xeon Scalable (8275CL)"),
    "r5": ("Xeon Platinum 8175M", ["Skylake"], 2, 96, 768, 0, 0, "ccf-aws-instances", "r5.24xlarge host"),
    "m6i": ("Xeon Platinum 8375C", ["Ice Lake"], 2, 128, 512, 0, 0, "ccf-aws-instances", "m6i.32xlarge host"),
    "c6i": ("Xeon Platinum 8375C", ["Ice Lake"], 2, 128, 256, 0, 0, "ccf-aws-latest", "c6i.32xlarge host"),
    "r6i": ("Xeon Platinum 8375C", ["Ice Lake"], 2, 128, 1024, 0, 0, "ccf-aws-latest", "r6i.32xlarge host"),
    "m6a": ("EPYC 7R13", ["EPYC 3rd Gen"], 2, 192, 768, 0, 0, "ccf-aws-latest", "m6a.48xlarge host; 48-core parts, so two sockets"),
    "c6a": ("EPYC 7R13", ["EPYC 3rd Gen"], 2, 192, 384, 0, 0, "ccf-aws-latest", "c6a.48xlarge host"),
    "r6a": ("EPYC 7R13", ["EPYC 3rd Gen"], 2, 192, 1536, 0, 0, "ccf-aws-latest", "r6a.48xlarge host"),
    "m7i": ("Xeon Platinum 8488C", ["Sapphire Rapids"], 2, 192, 768, 0, 0, "ccf-aws-latest", "m7i.48xlarge host"),
    "c7i": ("Xeon Platinum 8488C", ["Sapphire Rapids"], 2, 192, 384, 0, 0, "ccf-aws-latest", "c7i.48xlarge host"),
    "r7i": ("Xeon Platinum 8488C", ["Sapphire Rapids"], 2, 192, 1536, 0, 0, "ccf-aws-latest", "r7i.48xlarge host"),
  },
  "azure": {
    "Dv4": ("Xeon Platinum 8272CL", ["Cascade Lake"], 2, 64, 256, 0, 0, "ccf-azure-instances", "largest size D64 v4 (one CCF row says 256 vCPUs; the largest size is used, as for every family)"),
    "Dasv4": ("EPYC 7452", ["EPYC 2nd Gen"], 1, 96, 384, 0, 1, "ccf-azure-instances", "largest size D96as v4"),
    "Ev4": ("Xeon Platinum 8272CL", ["Cascade Lake"], 2, 96, 672, 0, 0, "ccf-azure-instances", "CCF platform figures"),
    "Easv4": ("EPYC 7452", ["EPYC 2nd Gen"], 1, 96, 672, 1, 0, "ccf-azure-instances", "largest size E96as v4"),
    "Fsv2": ("Xeon Platinum 8168M / 8272CL", ["Skylake", "Cascade Lake"], 2, 72, 144, 1, 0, "ccf-azure-instances", "runs on Skylake or Cascade Lake: the two coefficient sets are averaged, as CCF does"),
    "Dsv5": ("Xeon Platinum 8370C", ["Ice Lake"], 2, 96, 384, 0, 0, "azure-dv5", "largest size D96s v5"),
    "Esv5": ("Xeon Platinum 8370C", ["Ice Lake"], 2, 96, 672, 0, 0, "azure-ev5", "CCF lists E v5 with an unknown microarchitecture; Microsoft documents Ice Lake 8370C"),
    "Dasv5": ("EPYC 7763v", ["EPYC 3rd Gen"], 1, 96, 384, 0, 0, "azure-dasv5", "largest size D96as v5"),
    "Easv5": ("EPYC 7763v", ["EPYC 3rd Gen"], 1, 96, 672, 0, 0, "azure-easv5", "largest size E96as v5"),
  },
  "gcp": {
    "n2-standard": ("Xeon Gold 6268CL / Platinum 8373C", ["Cascade Lake", "Ice Lake"], 2, 128, 512, 1, 0, "ccf-gcp-instances", "N2 runs on Cascade Lake or Ice Lake (CCF 2021 and 2026 lists): averaged"),
    "n2-highmem": ("Xeon Gold 6268CL / Platinum 8373C", ["Cascade Lake", "Ice Lake"], 2, 128, 864, 1, 0, "ccf-gcp-instances", "as n2-standard"),
    "n2-highcpu": ("Xeon Gold 6268CL / Platinum 8373C", ["Cascade Lake", "Ice Lake"], 2, 96, 96, 1, 0, "ccf-gcp-instances", "as n2-standard"),
    "n2d-standard": ("EPYC 7B12", ["EPYC 2nd Gen"], 2, 224, 896, 1, 0, "ccf-gcp-instances", "224 vCPUs need two 64-core sockets (CCF says one)"),
    "n2d-highmem": ("EPYC 7B12", ["EPYC 2nd Gen"], 1, 96, 768, 1, 0, "ccf-gcp-instances", "CCF platform figures"),
    "n2d-highcpu": ("EPYC 7B12", ["EPYC 2nd Gen"], 2, 224, 224, 1, 0, "ccf-gcp-instances", "224 vCPUs need two 64-core sockets (CCF says one)"),
    "e2-standard": ("mixed", ["Skylake", "Broadwell", "Haswell", "EPYC 2nd Gen"], 2, 32, 128, 0, 0, "ccf-gcp-instances", "E2 runs on any of four platforms: averaged, as CCF does"),
    "e2-highmem": ("mixed", ["Skylake", "Broadwell", "Haswell", "EPYC 2nd Gen"], 2, 32, 128, 0, 0, "ccf-gcp-instances", "as e2-standard"),
    "e2-highcpu": ("mixed", ["Skylake", "Broadwell", "Haswell", "EPYC 2nd Gen"], 2, 32, 32, 0, 0, "ccf-gcp-instances", "as e2-standard"),
    "c2-standard": ("Xeon Gold 6253CL", ["Cascade Lake"], 2, 60, 240, 1, 0, "ccf-gcp-instances", "c2-standard-60 host"),
  },
}

CATEGORY = {"m": "general", "c": "compute", "r": "memory", "D": "general", "E": "memory", "F": "compute"}

def aws():
    out = []
    for r in rows("aws-instances-latest-2026.csv"):
        name = r["Instance Type"]
        fam, size = name.split(".", 1)
        if fam not in PLATFORMS["aws"] or "metal" in size:
            continue
        plat = fam
        if fam == "c5" and size in ("12xlarge", "24xlarge"):
            plat = "c5-cascadelake"
        out.append((name, fam, CATEGORY[fam[0]], int(r["vCPUs"]), num(r["Memory (GiB)"]), plat, "ccf-aws-latest"))
    return out

AZURE_SERIES = {"D2 – D64 v4": "Dv4", "D2as – D96as v4": "Dasv4", "E2 – E64 v4": "Ev4",
                "E2as – E96as v4": "Easv4", "Fsv2-series": "Fsv2", "E2 – E96 v5": "Esv5"}

def azure_name(vm):
    # "D2as v4" -> "Standard_D2as_v4"; "F2s v2" -> "Standard_F2s_v2"
    return "Standard_" + vm.replace(" ", "_")

def azure():
    out, seen = [], set()
    for r in rows("azure-instances.csv"):
        fam = AZURE_SERIES.get(r["Series"])
        if not fam:
            continue
        vm = r["Virtual Machine"]
        if fam == "Esv5":
            vm = vm.replace(" v5", "s v5")  # E v5 sizes; the premium-storage 's' variant
        name = azure_name(vm)
        if name in seen:
            continue
        seen.add(name)
        src = "azure-ev5" if fam == "Esv5" else "ccf-azure-instances"
        out.append((name, fam, CATEGORY[fam[0]], int(num(r["Instance vCPUs"])), num(r["Instance Memory"]), fam, src))
    # Families CCF does not list, from Microsoft Learn (sizes: vCPUs, GiB).
    for fam, suffix, src, mem_per_vcpu in (("Dsv5", "s_v5", "azure-dv5", 4), ("Dasv5", "as_v5", "azure-dasv5", 4)):
        for v in (2, 4, 8, 16, 32, 48, 64, 96):
            out.append((f"Standard_D{v}{suffix}", fam, "general", v, float(v * mem_per_vcpu), fam, src))
    for v, m in ((2, 16), (4, 32), (8, 64), (16, 128), (20, 160), (32, 256), (48, 384), (64, 512), (96, 672)):
        out.append((f"Standard_E{v}as_v5", "Easv5", "memory", v, float(m), "Easv5", "azure-easv5"))
    return out

def gcp():
    out, seen = [], set()
    for r in rows("gcp-instances.csv"):
        name = r["Machine type"]
        fam = name.rsplit("-", 1)[0]
        if fam not in PLATFORMS["gcp"] or name in seen:
            continue
        seen.add(name)
        cat = {"standard": "general", "highmem": "memory", "highcpu": "compute"}[fam.split("-")[1]]
        if fam == "c2-standard":
            cat = "compute"
        out.append((name, fam, cat, int(num(r["Instance vCPUs"])), num(r["Instance Memory"]), fam, "ccf-gcp-instances"))
    return out

PROVIDER = {
  "aws": dict(pue=(1.135, "ccf-provider", "CCF's AWS PUE"), min=(0.74, "ccf-provider", "CCF AWS average"), max=(3.5, "ccf-provider", "CCF AWS average"),
              replication=(2.0, "ccf-provider", "EBS volume replication"), market=(0.0, "aws-claim", "Amazon: 100 % of the electricity consumed by its operations matched with renewable energy (2023)")),
  "azure": dict(pue=(1.185, "ccf-provider", "CCF's Azure PUE (Microsoft statement)"), min=(0.78, "ccf-provider", "CCF documented Azure average"), max=(3.76, "ccf-provider", "CCF documented Azure average"),
              replication=(3.0, "ccf-provider", "managed disks (LRS) replication"), market=(0.0, "azure-claim", "Microsoft: 100 % renewable electricity supply matching for its data centres (2025 commitment)")),
  "gcp": dict(pue=(1.1, "ccf-provider", "Google fleet PUE as used by CCF"), min=(0.71, "ccf-provider", "CCF documented GCP average"), max=(4.26, "ccf-provider", "CCF documented GCP average"),
              replication=(2.0, "ccf-provider", "persistent disk replication"), market=(0.0, "gcp-claim", "Google: 100 % annual renewable energy matching since 2017")),
}

SOURCES = {
  "ccf-provider": ("Cloud Carbon Footprint, packages/{aws,azure,gcp}/src/domain/*FootprintEstimationConstants.ts and Methodology.md", "https://github.com/cloud-carbon-footprint/cloud-carbon-footprint", "Apache-2.0", "b7a049c7 (2024-03-25)"),
  "ccf-aws-instances": ("ccf-coefficients data/aws-instances.csv (Teads AWS dataset: platform CPU, vCPUs, memory, drives)", "https://github.com/cloud-carbon-footprint/ccf-coefficients", "Apache-2.0", "9a91ba34 (2021-12-15)"),
  "ccf-aws-latest": ("ccf-coefficients data/aws-instances-latest-2026.csv (instance vCPUs, memory, platform CPU)", "https://github.com/cloud-carbon-footprint/ccf-coefficients", "Apache-2.0", "b0032d92 (2026-04-24)"),
  "aws-ec2-types": ("Amazon EC2 instance types: compute optimized (C5 processor note)", "https://aws.amazon.com/ec2/instance-types/", "facts", "read 2026"),
  "ccf-azure-instances": ("ccf-coefficients data/azure-instances.csv (sizes, microarchitecture, platform vCPUs, memory, drives)", "https://github.com/cloud-carbon-footprint/ccf-coefficients", "Apache-2.0", "e8adec76 (2023-01-23)"),
  "azure-dv5": ("Microsoft Learn, Dv5 and Dsv5 series (Intel Xeon Platinum 8370C, Ice Lake)", "https://learn.microsoft.com/azure/virtual-machines/dv5-dsv5-series", "facts", "read 2026"),
  "azure-ev5": ("Microsoft Learn, Ev5 and Esv5 series (Intel Xeon Platinum 8370C, Ice Lake); sizes as in ccf-coefficients azure-instances.csv", "https://learn.microsoft.com/azure/virtual-machines/ev5-esv5-series", "facts", "read 2026"),
  "azure-dasv5": ("Microsoft Learn, Dasv5 and Dadsv5 series (AMD EPYC 7763v, Milan)", "https://learn.microsoft.com/azure/virtual-machines/dasv5-dadsv5-series", "facts", "read 2026"),
  "azure-easv5": ("Microsoft Learn, Easv5 and Eadsv5 series (AMD EPYC 7763v, Milan)", "https://learn.microsoft.com/azure/virtual-machines/easv5-eadsv5-series", "facts", "read 2026"),
  "ccf-gcp-instances": ("ccf-coefficients data/gcp-instances.csv (machine types, microarchitecture, platform vCPUs, memory, drives)", "https://github.com/cloud-carbon-footprint/ccf-coefficients", "Apache-2.0", "80ace654 (2021-12-15)"),
  "aws-claim": ("Amazon Sustainability Report 2023 (renewable energy matching claim)", "https://sustainability.aboutamazon.com/", "provider claim", "2023 report"),
  "azure-claim": ("Microsoft Environmental Sustainability Report (renewable energy commitment)", "https://www.microsoft.com/en-us/corporate-responsibility/sustainability/report", "provider claim", "2024 report"),
  "gcp-claim": ("Google Environmental Report (100 % annual renewable matching)", "https://sustainability.google/reports/", "provider claim", "2024 report"),
}

def q(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def write(provider, instances):
    p = PROVIDER[provider]
    used = {"ccf-provider", f"{provider}-claim"} | {v[7] for v in PLATFORMS[provider].values()} | {i[6] for i in instances}
    lines = [f"# {provider.upper()} catalogue for cloud scenarios: provider coefficients, host platforms and",
             "# instance types. Generated by config/data/tools/gen_cloud.py from the Cloud Carbon",
             "# Footprint data (Apache-2.0); this file is the committed truth. memory_gib is GiB.",
             "# Parsed by server/src/carbon/data (a test loads it).", "",
             "instance = ["]
    for name, fam, cat, v, m, plat, src in sorted(instances, key=lambda i: (i[1], i[3], i[4], i[0])):
        lines.append(f"  {{ name = {q(name)}, family = {q(fam)}, category = {q(cat)}, vcpus = {v}, memory_gib = {m}, platform = {q(plat)}, source = {q(src)} }},")
    lines += ["]", "", "platform = ["]
    for pid, (cpu, ua, sockets, v, m, ssd, hdd, src, note) in PLATFORMS[provider].items():
        lines.append(f"  {{ id = {q(pid)}, cpu = {q(cpu)}, microarchitectures = [{', '.join(q(u) for u in ua)}], sockets = {sockets}, vcpus = {v}, memory_gib = {float(m)}, ssds = {ssd}, hdds = {hdd}, gpus = 0, source = {q(src)}, note = {q(note)} }},")
    lines += ["]", "", "[provider]", f"name = {q(provider)}"]
    for key, unit in (("pue", "ratio"), ("min", "W/vCPU"), ("max", "W/vCPU"), ("replication", "copies"), ("market", "kgCO2e/kWh")):
        field = {"pue": "pue", "min": "min_watts_per_vcpu", "max": "max_watts_per_vcpu", "replication": "block_storage_replication", "market": "market_kgco2e_per_kwh"}[key]
        val, src, note = p[key]
        lines.append(f"{field} = {{ value = {val}, unit = {q(unit)}, source = {q(src)}, note = {q(note)} }}")
    lines += ["", "[meta]", 'version = "2026-06"']
    for sid in sorted(used):
        t, url, lic, ver = SOURCES[sid]
        lines += ["", f"[sources.{sid}]", f"title = {q(t)}", f"url = {q(url)}", f"licence = {q(lic)}", f"version = {q(ver)}"]
    (OUT / f"cloud-{provider}.toml").write_text("\n".join(lines) + "\n")
    return len(instances)

if __name__ == "__main__":
    for prov, fn in (("aws", aws), ("azure", azure), ("gcp", gcp)):
        print(prov, write(prov, fn()))
