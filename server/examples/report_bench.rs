//! A synthetic council estate for the health-check report, and the report's benchmark.
//!
//! The estate is seeded and deterministic: Windows and Linux laptops, desktops and VDI
//! desktops, virtual and physical servers on a handful of sites, a share of them
//! neglected (old releases, unpatched, full disks, idle servers). Check outcomes are
//! drawn per check from the shipped baseline profile (the lifecycle, capacity and
//! utilisation checks follow the generated facts), scored with the real scoring, and
//! carbon is estimated by the real estimator with the default scenarios. The report
//! input is built directly (no store), with earlier months' reports as "previous".
//!
//! ```sh
//! # The benchmark: model and each renderer for 100,000 hosts (release build).
//! cargo run --release -p estate-server --example report_bench -- --hosts 100000
//! # One report file (format from --format, else the extension; csv: a directory).
//! cargo run -p estate-server --example report_bench -- --hosts 200 --out /tmp/report.html
//! # Reading N hosts with stored assessments from a SQLite store (measured apart).
//! cargo run --release -p estate-server --example report_bench -- --load 100000
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use estate_protocol::Chassis;
use estate_server::assess::{AssessConfig, Assessor};
use estate_server::carbon::{
    CpuInput, DiskInput, Distribution, HostInput, HostKind, Media, Readiness, UtilisationInput,
    WhatIf,
};
use estate_server::checks::{CheckId, CheckResult, Severity, Status, score_host};
use estate_server::report::render::csv::FILES;
use estate_server::report::{
    CheckInfo, CheckOutcome, Format, HostAssessment, HostFacts, PreviousReport, ReportHost,
    ReportInput, ReportSettings, build, output, render,
};

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    /// Picks by weight.
    fn pick<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|i| i.1).sum();
        let mut x = self.f() * total;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Type {
    Laptop,
    Desktop,
    Vdi,
    VirtualServer,
    PhysicalServer,
}

struct Os {
    label: &'static str,
    family: &'static str,
    end: (i32, u32, u32),
    extended: Option<(i32, u32, u32)>,
}

const ENDPOINT_OS: [(Os, f64); 5] = [
    (
        Os {
            label: "Windows 11 24H2 (Enterprise/Education)",
            family: "windows",
            end: (2027, 10, 12),
            extended: None,
        },
        0.62,
    ),
    (
        Os {
            label: "Windows 11 23H2 (Enterprise/Education)",
            family: "windows",
            end: (2026, 11, 10),
            extended: None,
        },
        0.12,
    ),
    (
        Os {
            label: "Windows 10 22H2",
            family: "windows",
            end: (2025, 10, 14),
            extended: Some((2028, 10, 10)),
        },
        0.18,
    ),
    (
        Os {
            label: "Ubuntu 24.04 LTS",
            family: "linux",
            end: (2029, 5, 31),
            extended: Some((2036, 5, 31)),
        },
        0.05,
    ),
    (
        Os {
            label: "Ubuntu 22.04 LTS",
            family: "linux",
            end: (2027, 4, 1),
            extended: Some((2032, 4, 9)),
        },
        0.03,
    ),
];

const SERVER_OS: [(Os, f64); 11] = [
    (
        Os {
            label: "Windows Server 2022",
            family: "windows",
            end: (2031, 10, 14),
            extended: None,
        },
        0.26,
    ),
    (
        Os {
            label: "Windows Server 2019",
            family: "windows",
            end: (2029, 1, 9),
            extended: None,
        },
        0.2,
    ),
    (
        Os {
            label: "Windows Server 2016",
            family: "windows",
            end: (2027, 1, 12),
            extended: Some((2030, 1, 12)),
        },
        0.12,
    ),
    (
        Os {
            label: "Windows Server 2012 R2",
            family: "windows",
            end: (2023, 10, 10),
            extended: Some((2026, 10, 13)),
        },
        0.04,
    ),
    (
        Os {
            label: "Red Hat Enterprise Linux 9",
            family: "linux",
            end: (2032, 5, 31),
            extended: Some((2036, 5, 31)),
        },
        0.1,
    ),
    (
        Os {
            label: "Red Hat Enterprise Linux 8",
            family: "linux",
            end: (2029, 5, 31),
            extended: Some((2033, 5, 31)),
        },
        0.08,
    ),
    (
        Os {
            label: "Ubuntu 24.04 LTS",
            family: "linux",
            end: (2029, 5, 31),
            extended: Some((2036, 5, 31)),
        },
        0.07,
    ),
    (
        Os {
            label: "Ubuntu 22.04 LTS",
            family: "linux",
            end: (2027, 4, 1),
            extended: Some((2032, 4, 9)),
        },
        0.06,
    ),
    (
        Os {
            label: "Ubuntu 20.04 LTS",
            family: "linux",
            end: (2025, 5, 31),
            extended: Some((2030, 4, 2)),
        },
        0.03,
    ),
    (
        Os {
            label: "Debian 12",
            family: "linux",
            end: (2026, 7, 11),
            extended: Some((2028, 6, 30)),
        },
        0.02,
    ),
    (
        Os {
            label: "CentOS Linux 7",
            family: "linux",
            end: (2024, 6, 30),
            extended: None,
        },
        0.02,
    ),
];

const SITES: [(&str, f64); 6] = [
    ("county-hall", 0.42),
    ("civic-centre", 0.2),
    ("highways-depot", 0.12),
    ("library-north", 0.1),
    ("leisure-centre", 0.08),
    ("registry-office", 0.08),
];
const SERVER_SITES: [(&str, f64); 2] = [("county-hall", 0.72), ("dr-site", 0.28)];
const DEPARTMENTS: [&str; 8] = ["ASC", "CHS", "ENV", "FIN", "HR", "HWY", "LIB", "REV"];
const ROLES: [(&str, f64); 8] = [
    ("app", 0.3),
    ("file-server", 0.12),
    ("database", 0.14),
    ("web", 0.12),
    ("domain-controller", 0.08),
    ("print", 0.06),
    ("backup", 0.06),
    ("citrix", 0.12),
];

fn date((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// One host's identity and facts (the same every month), its condition drawn per month.
struct Host {
    record: ReportHost,
    ty: Type,
    neglect: u8,
    facts: HostFacts,
    carbon: HostInput,
}

fn identity(i: usize, seed: u64, now: DateTime<Utc>) -> Host {
    let mut r = Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..4 {
        r.next();
    }
    let ty = *r.pick(&[
        (Type::Laptop, 0.42),
        (Type::Desktop, 0.26),
        (Type::Vdi, 0.04),
        (Type::VirtualServer, 0.22),
        (Type::PhysicalServer, 0.06),
    ]);
    let server = matches!(ty, Type::VirtualServer | Type::PhysicalServer);
    let neglect = *r.pick(&[(0u8, 0.7), (1, 0.22), (2, 0.08)]);
    let os_table: &'static [(Os, f64)] = if server { &SERVER_OS } else { &ENDPOINT_OS };
    let os = if neglect == 2 {
        // The neglected run the oldest releases.
        &os_table[os_table.len() - 1 - r.below(3)].0
    } else {
        r.pick(os_table)
    };
    let site = if server {
        r.pick(&SERVER_SITES)
    } else {
        r.pick(&SITES)
    };
    let dept = DEPARTMENTS[r.below(DEPARTMENTS.len())];
    let role = if server {
        Some(*r.pick(&ROLES))
    } else if ty == Type::Vdi {
        Some("vdi")
    } else {
        None
    };
    let hostname = match ty {
        Type::Laptop => format!("LT-{dept}-{:05}", i),
        Type::Desktop => format!("DT-{dept}-{:05}", i),
        Type::Vdi => format!("VDI-{dept}-{:05}", i),
        Type::VirtualServer | Type::PhysicalServer => {
            let short = match role.unwrap_or("app") {
                "file-server" => "fs",
                "database" => "db",
                "domain-controller" => "dc",
                "citrix" => "ctx",
                other => other,
            };
            let prefix = if os.family == "windows" { "SRV" } else { "lnx" };
            format!("{prefix}-{short}{:04}", i)
        }
    };
    let mut labels = BTreeMap::from([
        ("site".to_owned(), (*site).to_owned()),
        ("department".to_owned(), dept.to_owned()),
    ]);
    if let Some(role) = role {
        labels.insert("role".to_owned(), role.to_owned());
    }
    if server {
        labels.insert(
            "criticality".to_owned(),
            if r.chance(0.3) { "high" } else { "normal" }.to_owned(),
        );
        labels.insert(
            "owner".to_owned(),
            format!("{}-apps@council.example", dept.to_ascii_lowercase()),
        );
    }
    let physical = matches!(ty, Type::Laptop | Type::Desktop | Type::PhysicalServer);
    let (vendor, model) = match ty {
        Type::Laptop => *r.pick(&[
            (("Dell Inc.", "Latitude 5420"), 0.35),
            (("Dell Inc.", "Latitude 7440"), 0.25),
            (("HP", "EliteBook 840 G8"), 0.25),
            (("LENOVO", "ThinkPad T14 Gen 3"), 0.15),
        ]),
        Type::Desktop => *r.pick(&[
            (("Dell Inc.", "OptiPlex 7090"), 0.45),
            (("HP", "EliteDesk 800 G6"), 0.4),
            (("Dell Inc.", "OptiPlex 7050"), 0.15),
        ]),
        Type::PhysicalServer => *r.pick(&[
            (("Dell Inc.", "PowerEdge R740"), 0.4),
            (("Dell Inc.", "PowerEdge R750"), 0.25),
            (("HPE", "ProLiant DL380 Gen10"), 0.35),
        ]),
        _ => ("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
    };
    let age_days = (365.25 * (0.3 + r.f() * 5.0 + f64::from(neglect) * 1.6)) as i64;
    let idle = server && r.chance(if neglect > 0 { 0.2 } else { 0.08 });
    let busy = r.chance(0.05);
    let cpu_p95 = if idle {
        0.005 + r.f() * 0.04
    } else if busy {
        0.9 + r.f() * 0.09
    } else {
        0.08 + r.f() * 0.6
    };
    let mem_p95 = if r.chance(0.05) {
        0.9 + r.f() * 0.08
    } else {
        0.2 + r.f() * 0.6
    };
    let history_days = if r.chance(0.08) { r.f() * 10.0 } else { 30.0 };
    let (threads, memory_gib) = match ty {
        Type::Laptop => (8u32, 16.0),
        Type::Desktop => (
            if r.chance(0.5) { 8 } else { 16 },
            if r.chance(0.5) { 16.0 } else { 32.0 },
        ),
        Type::Vdi => (2, 8.0),
        Type::VirtualServer => {
            let v = [2u32, 4, 4, 8, 8, 16][r.below(6)];
            (v, f64::from(v) * [2.0, 4.0, 8.0][r.below(3)])
        }
        Type::PhysicalServer => {
            let t = [32u32, 40, 48, 64][r.below(4)];
            (t, [128.0, 256.0, 384.0, 768.0][r.below(4)])
        }
    };
    let min_available = if r.chance(0.05 + 0.08 * f64::from(neglect)) {
        r.f() * 0.09
    } else {
        0.12 + r.f() * 0.7
    };
    let cpu_model = match ty {
        Type::Laptop => "11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz",
        Type::Desktop => "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz",
        Type::Vdi | Type::VirtualServer => [
            "Intel Xeon Processor (Cascadelake)",
            "AMD EPYC-Rome Processor",
            "Intel Xeon Processor (Icelake)",
        ][r.below(3)],
        Type::PhysicalServer => [
            "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
            "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz",
            "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        ][r.below(3)],
    };
    let mut peaks = Vec::with_capacity(48);
    for _ in 0..48 {
        peaks.push((cpu_p95 * (0.6 + r.f() * 0.45)).min(1.0));
    }
    let coverage = if r.chance(0.15) {
        0.3 + r.f() * 0.5
    } else {
        0.95
    };
    let dist = |mean: f64, p95: f64, peaks: Vec<f64>| Distribution {
        mean,
        p50: mean,
        p95,
        max: (p95 * 1.1).min(1.0),
        peaks_10m: peaks,
    };
    let (kind, chassis) = match ty {
        Type::Laptop => (HostKind::Physical, Chassis::Laptop),
        Type::Desktop => (HostKind::Physical, Chassis::Desktop),
        Type::PhysicalServer => (HostKind::Physical, Chassis::Server),
        Type::Vdi | Type::VirtualServer => (HostKind::Vm, Chassis::Virtual),
    };
    let carbon = HostInput {
        host_id: format!("host-{i:06}"),
        site: Some((*site).to_owned()),
        labels: labels.clone(),
        kind,
        chassis,
        cpu: Some(CpuInput {
            model: cpu_model.to_owned(),
            sockets: if ty == Type::PhysicalServer { 2 } else { 1 },
            physical_cores: (threads / 2).max(1),
            logical_cpus: threads,
        }),
        memory_gib: Some(memory_gib),
        disks: Some(vec![DiskInput {
            media: if physical { Media::Ssd } else { Media::Unknown },
            size_bytes: if ty == Type::PhysicalServer {
                4_000_000_000_000
            } else {
                256_000_000_000 + 64_000_000_000 * (r.below(8) as u64)
            },
        }]),
        gpus: Vec::new(),
        utilisation: Some(UtilisationInput {
            samples_taken: (8640.0 * coverage) as u64,
            samples_expected: 8640,
            cpu: Some(dist(cpu_p95 * 0.45, cpu_p95, peaks)),
            memory: Some(dist(mem_p95 * 0.8, mem_p95, Vec::new())),
        }),
        measured: None,
        readiness: Readiness::Unknown,
    };
    let first_seen = now - Duration::days(30 + r.below(700) as i64);
    let stale = r.chance(0.02 + 0.05 * f64::from(neglect));
    let last_seen = if stale {
        now - Duration::days(2 + r.below(40) as i64)
    } else {
        now - Duration::minutes(r.below(5) as i64 + 1)
    };
    let facts = HostFacts {
        os_release: Some(os.label.to_owned()),
        os_end_of_support: Some(date(os.end)),
        os_extended_support_end: os.extended.map(date),
        hardware_vendor: physical.then(|| vendor.to_owned()),
        hardware_model: physical.then(|| model.to_owned()),
        bios_date: physical.then(|| (now - Duration::days(age_days)).date_naive()),
        hardware_age_days: physical.then_some(age_days),
        cpu_p95_ratio: Some(cpu_p95),
        memory_p95_ratio: Some(mem_p95),
        history_days: Some(history_days),
        memory_bytes: Some((memory_gib * 1_073_741_824.0) as u64),
        cpu_threads: Some(u64::from(threads)),
        min_available_ratio: Some(min_available),
        min_available_mount: Some(
            if os.family == "windows" {
                "C:\\"
            } else {
                "/var"
            }
            .to_owned(),
        ),
        stale: Some(stale),
        ..HostFacts::default()
    };
    Host {
        record: ReportHost {
            host_id: format!("host-{i:06}"),
            hostname,
            labels,
            machine_kind: Some(if physical { "physical" } else { "vm" }.to_owned()),
            chassis: Some(
                match ty {
                    Type::Laptop => "laptop",
                    Type::Desktop => "desktop",
                    Type::PhysicalServer => "server",
                    _ => "virtual",
                }
                .to_owned(),
            ),
            os_family: Some(os.family.to_owned()),
            os_name: Some(os.label.to_owned()),
            first_seen,
            last_seen,
            assessment: None,
        },
        ty,
        neglect,
        facts,
        carbon,
    }
}

const PHYSICAL_ONLY: [&str; 8] = [
    "lifecycle.hardware-age",
    "security.secure-boot",
    "security.firmware-recent",
    "resilience.network-redundancy",
    "resilience.redundant-disks",
    "operations.serial-known",
    "sustainability.power-measured",
    "sustainability.physical-consolidation",
];

/// The outcome of one check on one host this month: (status, credit, evidence).
fn outcome(
    h: &Host,
    c: &CheckInfo,
    tags: &[String],
    now: DateTime<Utc>,
    r: &mut Rng,
    stable: &mut Rng,
) -> (Status, f64, Option<String>) {
    let server = matches!(h.ty, Type::VirtualServer | Type::PhysicalServer);
    let physical = matches!(h.ty, Type::Laptop | Type::Desktop | Type::PhysicalServer);
    let for_kind = if server { "server" } else { "endpoint" };
    if !tags.iter().any(|t| t == for_kind) || (!physical && PHYSICAL_ONLY.contains(&c.id.as_str()))
    {
        return (Status::NotApplicable, 0.0, None);
    }
    let f = &h.facts;
    let today = now.date_naive();
    let days_left = f
        .os_end_of_support
        .map(|e| (e - today).num_days())
        .unwrap_or(9999);
    let ext_left = f
        .os_extended_support_end
        .map(|e| (e - today).num_days())
        .unwrap_or(days_left);
    let pass = (Status::Pass, 1.0, None);
    let fail = |ev: String| (Status::Fail, 0.0, Some(ev));
    let eos = f
        .os_end_of_support
        .map(|d| d.to_string())
        .unwrap_or_default();
    match c.id.as_str() {
        "lifecycle.os-supported" => {
            if days_left < 0 {
                fail(eos)
            } else {
                pass
            }
        }
        "lifecycle.os-support-ending" => {
            if days_left < 0 {
                (Status::NotApplicable, 0.0, None)
            } else if days_left <= 365 {
                fail(eos)
            } else {
                pass
            }
        }
        "lifecycle.os-support-ending-soon" => {
            if days_left < 0 {
                (Status::NotApplicable, 0.0, None)
            } else if days_left <= 90 {
                fail(eos)
            } else {
                pass
            }
        }
        "lifecycle.os-extended-support-ending" => {
            if days_left >= 0 {
                (Status::NotApplicable, 0.0, None)
            } else if ext_left <= 365 {
                fail(format!(
                    "extended support ends {}",
                    f.os_extended_support_end
                        .map(|d| d.to_string())
                        .unwrap_or(eos)
                ))
            } else {
                pass
            }
        }
        "security.os-security-fixes" => {
            if ext_left < 0 {
                fail(format!(
                    "no security fixes since {}",
                    f.os_extended_support_end
                        .or(f.os_end_of_support)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                ))
            } else {
                pass
            }
        }
        "lifecycle.os-lifecycle-known" | "lifecycle.os-64bit" => pass,
        "lifecycle.hardware-age" => {
            let age = f.hardware_age_days.unwrap_or(0) as f64 / 365.25;
            if age >= 5.0 {
                fail(format!(
                    "{age:.1} years (BIOS dated {})",
                    f.bios_date.map(|d| d.to_string()).unwrap_or_default()
                ))
            } else {
                pass
            }
        }
        "capacity.cpu-p95" => match f.cpu_p95_ratio {
            Some(p) if p >= 0.9 => fail(format!("p95 {:.0}%", p * 100.0)),
            Some(_) => pass,
            None => (Status::NotApplicable, 0.0, None),
        },
        "capacity.memory-p95" => match f.memory_p95_ratio {
            Some(p) if p >= 0.9 => fail(format!("p95 {:.0}%", p * 100.0)),
            Some(_) => pass,
            None => (Status::NotApplicable, 0.0, None),
        },
        "capacity.filesystem-free" => match f.min_available_ratio {
            Some(a) if a < 0.1 => (
                Status::Fail,
                (a / 0.1).clamp(0.0, 0.99),
                Some(format!(
                    "{} {:.0}% free",
                    f.min_available_mount.as_deref().unwrap_or("/"),
                    a * 100.0
                )),
            ),
            _ => pass,
        },
        "capacity.filesystem-not-full" => match f.min_available_ratio {
            Some(a) if a < 0.02 => fail(format!(
                "{} {:.1}% free",
                f.min_available_mount.as_deref().unwrap_or("/"),
                a * 100.0
            )),
            _ => pass,
        },
        "sustainability.under-utilised" => match (f.cpu_p95_ratio, f.history_days) {
            (Some(p), Some(d)) if d >= 14.0 => {
                if p < 0.05 {
                    fail(format!("CPU p95 {:.1}% over {d:.0} days", p * 100.0))
                } else {
                    pass
                }
            }
            _ => (Status::NotApplicable, 0.0, None),
        },
        "operations.utilisation-history" => {
            if f.history_days.unwrap_or(0.0) < 7.0 {
                fail(format!(
                    "{:.1} days of history",
                    f.history_days.unwrap_or(0.0)
                ))
            } else {
                pass
            }
        }
        "operations.agent-reporting" => {
            if f.stale == Some(true) {
                fail(format!(
                    "last report {}",
                    h.record.last_seen.format("%Y-%m-%d")
                ))
            } else {
                pass
            }
        }
        _ => {
            let base = match c.severity {
                Severity::Critical => 0.003,
                Severity::High => 0.035,
                Severity::Medium => 0.08,
                Severity::Low => 0.12,
                Severity::Info => 0.1,
            };
            let p = base * [1.0, 3.0, 7.0][usize::from(h.neglect)];
            // The same hosts fail the same checks month after month; a few change.
            let failing = stable.chance(p) != r.chance(0.04);
            if stable.chance(0.012) {
                (
                    Status::Error,
                    0.0,
                    Some("pass: No such key: security".to_owned()),
                )
            } else if failing {
                let ev = match c.id.as_str() {
                    "security.patched-recently" => {
                        format!("last package change {} days ago", 36 + r.below(200))
                    }
                    "security.firewall-active" => "no active firewall found".to_owned(),
                    "security.no-telnet" => "telnetd listening on 0.0.0.0:23".to_owned(),
                    "security.ssh-no-root-password-login" => {
                        "PermitRootLogin yes, PasswordAuthentication yes".to_owned()
                    }
                    "resilience.rebooted-recently" => format!("up {} days", 91 + r.below(300)),
                    _ => format!(
                        "{} not met",
                        c.title.to_ascii_lowercase().trim_end_matches('.')
                    ),
                };
                if r.chance(0.03) {
                    (Status::Waived, 0.0, Some(ev))
                } else {
                    fail(ev)
                }
            } else {
                pass
            }
        }
    }
}

/// The estate as of `now`: hosts `0..n` (without those `skip` drops) and `extra` more.
fn estate(
    assessor: &Assessor,
    n: usize,
    month: u64,
    now: DateTime<Utc>,
    skip: impl Fn(usize) -> bool,
    extra: usize,
) -> ReportInput {
    let plan = assessor.plan();
    let checks = CheckInfo::from_plan(plan);
    let tags: Vec<Vec<String>> = plan.checks().map(|p| p.check.tags.clone()).collect();
    let scoring = assessor.scoring().clone();
    let what_if = WhatIf::default();
    let hosts = (0..n + extra)
        .filter(|i| *i >= n || !skip(*i))
        .map(|i| {
            let h = identity(i, 0x5EED_CAFE, now);
            let mut r = Rng(0xC0FF_EE00
                ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93)
                ^ month.wrapping_mul(0x1000_0000_01B3));
            r.next();
            let mut stable =
                Rng(0xA5A5_5A5A_0F0F_F0F0 ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
            stable.next();
            let drawn: Vec<(Status, f64, Option<String>)> = checks
                .iter()
                .zip(&tags)
                .map(|(c, t)| outcome(&h, c, t, now, &mut r, &mut stable))
                .collect();
            let results: Vec<CheckResult> = checks
                .iter()
                .zip(&drawn)
                .map(|(c, (status, credit, _))| CheckResult {
                    id: CheckId::new(&c.id),
                    category: c.category,
                    severity: c.severity,
                    weight: c.weight,
                    status: *status,
                    credit: *credit,
                    evidence: None,
                    error: None,
                    waiver: None,
                })
                .collect();
            let score = score_host(&results, &scoring, None);
            let carbon = assessor.estimator().estimate(&h.carbon, &what_if);
            let mut record = h.record;
            record.assessment = Some(HostAssessment {
                assessed_at: now - Duration::minutes(10),
                score: score.score,
                band: score.band,
                results: drawn
                    .into_iter()
                    .enumerate()
                    .map(|(i, (status, credit, evidence))| CheckOutcome {
                        check: i,
                        status,
                        credit,
                        evidence,
                    })
                    .collect(),
                facts: h.facts,
                carbon: Some(carbon),
            });
            record
        })
        .collect();
    ReportInput {
        generated_at: now,
        title: "Borsetshire County Council — ICT health check".to_owned(),
        profile: plan.profile().to_owned(),
        scoring,
        checks,
        hosts,
        scenarios: assessor
            .estimator()
            .scenario_names()
            .map(str::to_owned)
            .collect(),
        settings: ReportSettings::from_plan(plan),
        previous: None,
    }
}

/// The latest month's input, compared with the report of the month before (each
/// earlier month compared with its own previous one, so the trend has `months`
/// points). Hosts join month by month; in the latest month a few are gone
/// (decommissioned) and as many new ones come, so it has exactly `n` hosts.
fn monthly(
    assessor: &Assessor,
    n: usize,
    months: u64,
    last: DateTime<Utc>,
) -> (ReportInput, Option<Vec<u8>>) {
    let mut previous: Option<Vec<u8>> = None;
    let gone = |i: usize| i % 53 == 7;
    let extra = (0..n).filter(|i| gone(*i)).count();
    for m in 0..months {
        let now = last - Duration::days(30 * (months - 1 - m) as i64);
        let mut input = if m + 1 == months {
            estate(assessor, n, m, now, gone, extra)
        } else {
            let joined = n.saturating_sub((n / 60) * (months - 1 - m) as usize);
            estate(assessor, joined, m, now, |_| false, 0)
        };
        if let Some(p) = &previous {
            input.previous = PreviousReport::from_json(p).ok();
        }
        if m + 1 == months {
            return (input, previous);
        }
        let report = build(&input);
        let mut out = Vec::new();
        if render::json(&report, &mut out).is_ok() {
            previous = Some(out);
        }
    }
    (estate(assessor, n, 0, last, |_| false, 0), None)
}

/// The facts document the report reads, as the facts derivation names them.
fn facts_json(f: &HostFacts) -> serde_json::Value {
    serde_json::json!({
        "os": {
            "lifecycle": {"label": f.os_release},
            "end_of_support": f.os_end_of_support,
            "extended_support_end": f.os_extended_support_end,
        },
        "hardware": {
            "vendor": f.hardware_vendor,
            "model": f.hardware_model,
            "bios_date": f.bios_date,
            "hardware_age_days": f.hardware_age_days,
            "memory_bytes": f.memory_bytes,
            "cpu_threads": f.cpu_threads,
        },
        "utilisation": {
            "cpu_p95_ratio_series": f.cpu_p95_ratio,
            "memory_p95_ratio_series": f.memory_p95_ratio,
            "series_span_seconds": f.history_days.map(|d| d * 86_400.0),
        },
        "storage": {
            "min_available_ratio": f.min_available_ratio,
            "min_available_mount": f.min_available_mount,
        },
        "agent": {"stale": f.stale},
    })
}

/// Reading the store: fills a temporary SQLite store with `n` hosts, each with a
/// stored assessment (check results with evidence, facts, the full carbon estimate),
/// then times `report::load::from_store`.
fn load_bench(
    assessor: &Assessor,
    n: usize,
    now: DateTime<Utc>,
) -> Result<(), Box<dyn std::error::Error>> {
    use estate_server::assess::Assessment;
    use estate_server::checks::host_improvements;
    use estate_server::store::{HostFacets, NewReport, SeriesPoint};

    let dir = tempfile::tempdir()?;
    let mut config = estate_server::config::ServerConfig::default();
    config.storage.backend = estate_server::config::Backend::Sqlite(dir.path().join("estate.db"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = estate_server::open_store(&config)?;
        let input = estate(assessor, n, 0, now, |_| false, 0);
        let t = Instant::now();
        for chunk in input.hosts.chunks(1000) {
            let mut writes = tokio::task::JoinSet::new();
            for h in chunk {
                let Some(a) = &h.assessment else { continue };
                let results: Vec<CheckResult> = a
                    .results
                    .iter()
                    .map(|o| {
                        let c = &input.checks[o.check];
                        CheckResult {
                            id: CheckId::new(&c.id),
                            category: c.category,
                            severity: c.severity,
                            weight: c.weight,
                            status: o.status,
                            credit: o.credit,
                            evidence: o.evidence.clone().map(serde_json::Value::String),
                            error: None,
                            waiver: None,
                        }
                    })
                    .collect();
                let scored = score_host(&results, &input.scoring, None);
                let assessment = Assessment {
                    assessed_at: a.assessed_at,
                    profile: input.profile.clone(),
                    improvements: host_improvements(&results),
                    score: scored,
                    results,
                    readiness: None,
                    carbon: a.carbon.clone(),
                    facts: facts_json(&a.facts),
                };
                let record = assessment.to_record(&h.host_id)?;
                let report = NewReport {
                    report_id: uuid::Uuid::new_v4(),
                    host_id: h.host_id.clone(),
                    hostname: h.hostname.clone(),
                    labels: h.labels.clone(),
                    collected_at: h.last_seen,
                    received_at: h.last_seen,
                    inventory_json: None,
                    inventory_hash: "0".repeat(64),
                    facets: Some(HostFacets {
                        os_family: h.os_family.clone(),
                        os_id: None,
                        os_name: h.os_name.clone(),
                        os_version: None,
                        machine_kind: h.machine_kind.clone(),
                        chassis: h.chassis.clone(),
                    }),
                    point: SeriesPoint {
                        window_start: h.last_seen - Duration::minutes(5),
                        window_end: h.last_seen,
                        cpu_mean_ratio: None,
                        cpu_p95_ratio: None,
                        memory_mean_ratio: None,
                        memory_p95_ratio: None,
                        power_watts: None,
                        energy_joules: None,
                        power_source: "none".to_owned(),
                    },
                    raw_json: "{}".to_owned(),
                };
                let store = std::sync::Arc::clone(&store);
                writes.spawn(async move {
                    store.ingest(report).await?;
                    store.save_assessment(record).await
                });
            }
            while let Some(done) = writes.join_next().await {
                done??;
            }
        }
        println!("  filled the store with {n} hosts and their assessments in {:.1} s (not counted)", t.elapsed().as_secs_f64());
        drop(input);
        let t = Instant::now();
        let options = estate_server::report::load::LoadOptions {
            now,
            title: "load".to_owned(),
            scenario: None,
            previous: None,
        };
        let loaded = estate_server::report::load::from_store(store.as_ref(), assessor, options, &|_, _| {}).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  read {} hosts with their stored assessments from SQLite in {secs:.3} s ({:.0} us/host; {} without one)",
            loaded.input.hosts.len(),
            secs * 1e6 / n.max(1) as f64,
            loaded.unassessed.len()
        );
        // The rest of `estate-server report --format html` on a store: the model and
        // the one file.
        let t = Instant::now();
        let report = build(&loaded.input);
        let model = t.elapsed().as_secs_f64();
        drop(loaded);
        let t = Instant::now();
        let html = render::html::render(&report);
        let render = t.elapsed().as_secs_f64();
        println!(
            "  built the model in {model:.3} s, rendered HTML ({:.1} MB) in {render:.3} s: {:.3} s from the store to the report",
            html.len() as f64 / 1e6,
            secs + model + render
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut hosts: usize = 100_000;
    let mut out: Option<PathBuf> = None;
    let mut format: Option<Format> = None;
    let mut months: Option<u64> = None;
    let mut load: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hosts" => hosts = args.next().ok_or("--hosts N")?.parse()?,
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out FILE")?)),
            "--format" => {
                format = Some(
                    Format::parse(&args.next().ok_or("--format html|md|csv|json")?)
                        .ok_or("--format html|md|csv|json")?,
                )
            }
            "--months" => months = Some(args.next().ok_or("--months N")?.parse()?),
            "--load" => load = Some(args.next().ok_or("--load N")?.parse()?),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (--hosts N, --out FILE, --format F, --months M, --load N)"
                )
                .into());
            }
        }
    }
    let last = Utc
        .with_ymd_and_hms(2026, 12, 1, 6, 0, 0)
        .single()
        .ok_or("date")?;
    let assessor = Assessor::load(&AssessConfig::default())?;
    if let Some(n) = load {
        println!("report_bench --load: reading {n} hosts from a SQLite store");
        return load_bench(&assessor, n, last);
    }

    if let Some(path) = out {
        let format = format
            .or_else(|| {
                path.extension()
                    .and_then(|e| e.to_str())
                    .and_then(Format::parse)
            })
            .unwrap_or(Format::Html);
        let (input, _) = monthly(&assessor, hosts, months.unwrap_or(6).max(1), last);
        let report = build(&input);
        output::write_path(&report, format, &path)?;
        eprintln!(
            "wrote the {} report of {} hosts to {}",
            format.as_str(),
            report.summary.hosts,
            path.display()
        );
        return Ok(());
    }

    let t = Instant::now();
    let (mut input, previous) = monthly(&assessor, hosts, months.unwrap_or(2).max(1), last);
    let generate = t.elapsed();
    let results: usize = input
        .hosts
        .iter()
        .filter_map(|h| h.assessment.as_ref())
        .map(|a| a.results.len())
        .sum();
    println!(
        "report_bench: {} hosts, {} check results, {} scenarios (input generated in {:.1} s, not counted)",
        input.hosts.len(),
        results,
        input.scenarios.len(),
        generate.as_secs_f64()
    );

    let mut total = 0.0;
    let mut step = |name: &str, secs: f64, extra: String| {
        total += secs;
        println!("  {name:<28} {:>8.3} s  {extra}", secs);
    };
    let t = Instant::now();
    input.previous = match &previous {
        Some(p) => Some(PreviousReport::from_json(p)?),
        None => None,
    };
    step(
        "read previous report JSON",
        t.elapsed().as_secs_f64(),
        format!(
            "({:.1} MB)",
            previous.as_ref().map_or(0, Vec::len) as f64 / 1e6
        ),
    );
    let t = Instant::now();
    let report = build(&input);
    step("build the model", t.elapsed().as_secs_f64(), String::new());
    drop(input);
    let t = Instant::now();
    let html = render::html::render(&report);
    step(
        "render HTML",
        t.elapsed().as_secs_f64(),
        format!("({:.1} MB)", html.len() as f64 / 1e6),
    );
    let t = Instant::now();
    let md = render::markdown::render(&report);
    step(
        "render Markdown",
        t.elapsed().as_secs_f64(),
        format!("({:.1} MB)", md.len() as f64 / 1e6),
    );
    let t = Instant::now();
    let mut csv_bytes = 0;
    for file in FILES {
        let mut buf = Vec::with_capacity(1 << 24);
        render::csv::write(&report, file, &mut buf)?;
        csv_bytes += buf.len();
    }
    step(
        "render CSV (4 files)",
        t.elapsed().as_secs_f64(),
        format!("({:.1} MB)", csv_bytes as f64 / 1e6),
    );
    let t = Instant::now();
    let mut json = Vec::with_capacity(1 << 26);
    render::json(&report, &mut json)?;
    step(
        "render JSON",
        t.elapsed().as_secs_f64(),
        format!("({:.1} MB)", json.len() as f64 / 1e6),
    );
    println!("  {:<28} {:>8.3} s", "total (model + every format)", total);
    println!(
        "  estate score {:.3}, {} red, {} candidates, on-premises {:.0} tCO2e/yr",
        report.summary.score.unwrap_or(f64::NAN),
        report.summary.bands.red,
        report.carbon.candidates.len(),
        report.carbon.onprem.total_kgco2e_per_year / 1000.0
    );
    Ok(())
}
