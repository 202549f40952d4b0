//! Times the check engine: evaluating a 40-check catalogue on one host (µs per host,
//! with and without evidence), and re-scoring 100,000 synthetic hosts on all cores
//! (evaluate + host score + estate score + "what raises it most").
//!
//! Run: `cargo run --release -p estate-server --example checks_bench [HOSTS]`; with
//! `CHECKS_BENCH_PER_CHECK=1` it also prints each check's cost on one host, and with
//! `CHECKS_BENCH_CATALOGUE=DIR CHECKS_BENCH_FACTS=FILE[,FILE...]` it times that catalogue
//! on those facts documents.
//!
//! The facts are synthetic but sized like a real server's: 6 filesystems, 120 service
//! units, 1,500 packages with a name → version map, listening ports and probes. The
//! checks are written as docs/checks.md advises (map and list lookups rather than
//! walking long lists); what walking a 120-element list costs is timed on its own.
// An example binary prints its figures and may panic on a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use estate_server::checks::{
    Catalogue, EstateHost, HostRef, Plan, Profile, ScoringConfig, Waivers, default_threads,
    estate_improvements, score_estate, score_host,
};
use serde_json::{Value as Json, json};

/// (id, category, severity, applies, rule, expression, evidence)
const CHECKS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "os.supported",
        "lifecycle",
        "high",
        "has(facts.os.end_of_support)",
        "pass",
        "date(facts.os.end_of_support) > now",
        "facts.os.end_of_support",
    ),
    (
        "os.support-warning",
        "lifecycle",
        "medium",
        "has(facts.os.days_to_end_of_support)",
        "pass",
        "facts.os.days_to_end_of_support > params.warn_days",
        "facts.os.days_to_end_of_support",
    ),
    (
        "os.extended-support",
        "lifecycle",
        "low",
        "has(facts.os.extended_support_end)",
        "pass",
        "date(facts.os.extended_support_end) > now + days(365)",
        "",
    ),
    (
        "patch.recent",
        "lifecycle",
        "high",
        "has(facts.patching.days_since_last_patch)",
        "pass",
        "facts.patching.days_since_last_patch <= params.max_days",
        "facts.patching.days_since_last_patch",
    ),
    (
        "patch.reboot",
        "lifecycle",
        "medium",
        "has(facts.patching.reboot_required)",
        "pass",
        "!facts.patching.reboot_required",
        "facts.patching.reboot_required_packages",
    ),
    (
        "patch.pending-security",
        "security",
        "high",
        "has(facts.patching.pending_security_updates)",
        "pass",
        "facts.patching.pending_security_updates == 0",
        "facts.patching.pending_security_updates",
    ),
    (
        "patch.automatic",
        "security",
        "medium",
        "has(facts.patching.automatic_updates)",
        "pass",
        "facts.patching.automatic_updates",
        "",
    ),
    (
        "hw.age",
        "lifecycle",
        "low",
        "has(facts.hardware.bios_date)",
        "pass",
        "now - date(facts.hardware.bios_date) < days(params.max_age_days)",
        "facts.hardware.bios_date",
    ),
    (
        "disk.headroom",
        "capacity",
        "medium",
        "",
        "score",
        "size(facts.storage.filesystems) == 0 ? 1.0 : double(facts.storage.filesystems.filter(f, f.available_ratio >= params.min_ratio).size()) / double(size(facts.storage.filesystems))",
        "facts.storage.filesystems.filter(f, f.available_ratio < params.min_ratio).map(f, f.mount)",
    ),
    (
        "disk.inodes",
        "capacity",
        "low",
        "has(facts.storage.min_inodes_free_ratio)",
        "pass",
        "facts.storage.min_inodes_free_ratio >= 0.1",
        "facts.storage.min_inodes_free_mount",
    ),
    (
        "disk.root",
        "capacity",
        "high",
        "has(facts.storage.root_available_ratio)",
        "pass",
        "facts.storage.root_available_ratio >= 0.1",
        "facts.storage.root_available_ratio",
    ),
    (
        "disk.readonly",
        "operations",
        "medium",
        "",
        "pass",
        "!facts.storage.filesystems.exists(f, f.read_only)",
        "",
    ),
    (
        "mem.available",
        "capacity",
        "medium",
        "has(facts.usage.memory_used_ratio_p95)",
        "pass",
        "facts.usage.memory_used_ratio_p95 < 0.9",
        "facts.usage.memory_used_ratio_p95",
    ),
    (
        "cpu.saturation",
        "capacity",
        "medium",
        "has(facts.usage.cpu_ratio_p95)",
        "pass",
        "facts.usage.cpu_ratio_p95 < 0.85",
        "facts.usage.cpu_ratio_p95",
    ),
    (
        "cpu.idle",
        "sustainability",
        "medium",
        "has(facts.usage.cpu_ratio_p95) && facts.host.kind != 'container'",
        "pass",
        "facts.usage.cpu_ratio_p95 >= 0.05",
        "facts.usage.cpu_ratio_p95",
    ),
    (
        "swap.none-used",
        "capacity",
        "low",
        "has(facts.memory.swap_used_ratio)",
        "pass",
        "facts.memory.swap_used_ratio < 0.5",
        "",
    ),
    (
        "fw.active",
        "security",
        "high",
        "has(facts.security.firewall_active)",
        "pass",
        "facts.security.firewall_active",
        "facts.security.firewall_evidence",
    ),
    (
        "crypt.data",
        "security",
        "high",
        "facts.host.chassis in ['laptop', 'desktop']",
        "pass",
        "facts.security.disk_encryption_complete",
        "facts.security.unencrypted_data_mounts",
    ),
    (
        "boot.secure",
        "security",
        "medium",
        "has(facts.security.uefi) && facts.security.uefi",
        "pass",
        "facts.security.secure_boot == 'enabled'",
        "facts.security.secure_boot",
    ),
    (
        "time.sync",
        "operations",
        "medium",
        "has(facts.security.time_sync_active)",
        "pass",
        "facts.security.time_sync_active",
        "facts.security.time_sync_service",
    ),
    (
        "ssh.root",
        "security",
        "critical",
        "has(facts.security.ssh_root_login)",
        "pass",
        "!facts.security.ssh_root_login",
        "facts.security.ssh_permit_root_login",
    ),
    (
        "ssh.password",
        "security",
        "high",
        "has(facts.security.ssh_password_authentication)",
        "pass",
        "!facts.security.ssh_password_authentication",
        "",
    ),
    (
        "av.present",
        "security",
        "medium",
        "facts.os.family == 'windows' || facts.host.chassis in ['laptop', 'desktop']",
        "pass",
        "facts.security.antivirus_present",
        "facts.security.antivirus",
    ),
    (
        "sw.telnetd",
        "security",
        "high",
        "",
        "pass",
        "!('telnetd' in facts.software.versions) && !('inetutils-telnetd' in facts.software.versions)",
        "",
    ),
    (
        "sw.rsh",
        "security",
        "high",
        "",
        "pass",
        "!('rsh-server' in facts.software.versions)",
        "",
    ),
    (
        "sw.backup-agent",
        "resilience",
        "high",
        "facts.host.chassis == 'server' || facts.host.kind == 'virtual'",
        "pass",
        "params.agents.exists(a, a in facts.software.versions)",
        "",
    ),
    (
        "sw.openssl-current",
        "security",
        "medium",
        "'openssl' in facts.software.versions",
        "pass",
        "!facts.software.versions['openssl'].startsWith('1.0')",
        "facts.software.versions['openssl']",
    ),
    (
        "svc.failed",
        "operations",
        "medium",
        "has(facts.services.failed)",
        "pass",
        "size(facts.services.failed) == 0",
        "facts.services.failed",
    ),
    (
        "svc.monitoring",
        "operations",
        "medium",
        "has(facts.services.running)",
        "pass",
        "params.units.exists(u, u in facts.services.running)",
        "",
    ),
    (
        "svc.cron",
        "operations",
        "low",
        "has(facts.services.running)",
        "pass",
        "'cron.service' in facts.services.running",
        "",
    ),
    (
        "net.listening-telnet",
        "security",
        "critical",
        "has(facts.listening.ports)",
        "pass",
        "!facts.listening.ports.exists(p, p.port == 23)",
        "facts.listening.ports.filter(p, p.port < 1024).map(p, p.port)",
    ),
    (
        "net.dns",
        "operations",
        "low",
        "has(facts.network.nameservers)",
        "pass",
        "size(facts.network.nameservers) >= 2",
        "facts.network.nameservers",
    ),
    (
        "tls.expiry",
        "operations",
        "high",
        "size(facts.agent.probes) > 0",
        "score",
        "double(facts.agent.probes.filter(p, !has(p.tls_days_left) || p.tls_days_left > params.min_days).size()) / double(size(facts.agent.probes))",
        "facts.agent.probes.filter(p, has(p.tls_days_left) && p.tls_days_left <= params.min_days).map(p, p.target)",
    ),
    (
        "agent.fresh",
        "operations",
        "medium",
        "",
        "pass",
        "facts.agent.days_since_report < 2",
        "facts.agent.days_since_report",
    ),
    (
        "agent.errors",
        "operations",
        "low",
        "",
        "pass",
        "size(facts.agent.collector_errors) == 0",
        "facts.agent.collector_errors",
    ),
    (
        "uptime.extreme",
        "lifecycle",
        "low",
        "has(facts.uptime.days_since_boot)",
        "pass",
        "facts.uptime.days_since_boot < 365",
        "facts.uptime.days_since_boot",
    ),
    (
        "power.measured",
        "sustainability",
        "info",
        "",
        "pass",
        "facts.power.source != 'none'",
        "facts.power.source",
    ),
    (
        "cloud.os",
        "lifecycle",
        "medium",
        "",
        "pass",
        "facts.os.id in ['debian', 'ubuntu', 'rhel', 'rocky', 'windows']",
        "facts.os.id",
    ),
    (
        "cloud.disk-size",
        "capacity",
        "low",
        "",
        "pass",
        "facts.storage.total_bytes < 4 * 1024 * 1024 * 1024 * 1024",
        "",
    ),
    (
        "host.labels",
        "operations",
        "low",
        "",
        "pass",
        "'owner' in facts.host.labels && 'role' in facts.host.labels",
        "facts.host.labels",
    ),
];

fn catalogue_toml() -> String {
    let mut text = String::new();
    for (id, category, severity, applies, rule, expr, evidence) in CHECKS {
        text.push_str(&format!(
            "[[check]]\nid = {id:?}\ntitle = {id:?}\ncategory = {category:?}\nseverity = {severity:?}\nremediation = \"Fix it.\"\n{rule} = '''{expr}'''\n"
        ));
        if !applies.is_empty() {
            text.push_str(&format!("applies = '''{applies}'''\n"));
        }
        if !evidence.is_empty() {
            text.push_str(&format!("evidence = '''{evidence}'''\n"));
        }
        let params: Vec<&str> = [
            ("params.warn_days", "warn_days = 90"),
            ("params.max_days", "max_days = 35"),
            ("params.max_age_days", "max_age_days = 2555"),
            ("params.min_ratio", "min_ratio = 0.15"),
            ("params.min_days", "min_days = 21"),
            (
                "params.agents",
                "agents = [\"veeam\", \"bacula-fd\", \"restic\"]",
            ),
            (
                "params.units",
                "units = [\"prometheus-node-exporter.service\", \"zabbix-agent.service\"]",
            ),
        ]
        .iter()
        .filter(|(r, _)| expr.contains(r) || evidence.contains(r))
        .map(|(_, decl)| *decl)
        .collect();
        if !params.is_empty() {
            text.push_str(&format!("[check.params]\n{}\n", params.join("\n")));
        }
        text.push('\n');
    }
    text
}

/// A facts document sized like a real server's; `i` varies the values.
fn facts(i: usize) -> Json {
    let packages: Vec<Json> = (0..1500)
        .map(|p| json!({"name": format!("pkg-{p}"), "version": "1.2.3-1", "arch": "amd64", "source": "dpkg"}))
        .collect();
    let mut versions: serde_json::Map<String, Json> = (0..1500)
        .map(|p| (format!("pkg-{p}"), json!("1.2.3-1")))
        .collect();
    versions.insert("openssl".into(), json!("3.0.15-1"));
    if i.is_multiple_of(7) {
        versions.insert("telnetd".into(), json!("0.17"));
    }
    if i.is_multiple_of(3) {
        versions.insert("restic".into(), json!("0.16"));
    }
    let units: Vec<Json> = (0..120)
        .map(|u| json!({"name": format!("unit-{u}.service"), "state": "active", "sub_state": "running", "load_state": "loaded", "active": true, "enabled": true}))
        .collect();
    let filesystems: Vec<Json> = (0..6)
        .map(|f| json!({"mount": format!("/fs{f}"), "fs_type": "ext4", "size_bytes": 100_000_000_000u64, "available_ratio": ((i + f) % 10) as f64 / 10.0, "read_only": false}))
        .collect();
    json!({
        "host": {"id": format!("host-{i}"), "name": format!("srv{i}"), "kind": "virtual", "chassis": "server",
                 "labels": {"owner": "infra", "role": "web", "criticality": if i.is_multiple_of(5) { "high" } else { "normal" }}},
        "os": {"family": "linux", "id": "debian", "name": "Debian GNU/Linux 12", "end_of_support": if i.is_multiple_of(4) { "2024-06-30" } else { "2028-06-30" },
               "days_to_end_of_support": 900, "extended_support_end": "2033-06-30"},
        "patching": {"days_since_last_patch": (i % 60) as i64, "reboot_required": i.is_multiple_of(2), "reboot_required_packages": ["libc6"],
                     "pending_security_updates": (i % 3) as i64, "automatic_updates": true},
        "hardware": {"bios_date": "2019-04-01"},
        "storage": {"filesystems": filesystems, "min_inodes_free_ratio": 0.8, "min_inodes_free_mount": "/", "root_available_ratio": 0.4, "total_bytes": 600_000_000_000u64},
        "usage": {"memory_used_ratio_p95": 0.6, "cpu_ratio_p95": ((i % 20) as f64) / 100.0},
        "memory": {"swap_used_ratio": 0.0},
        "security": {"firewall_active": !i.is_multiple_of(6), "firewall_evidence": ["ufw enabled"], "disk_encryption_complete": false, "unencrypted_data_mounts": [],
                     "uefi": true, "secure_boot": "enabled", "time_sync_active": true, "time_sync_service": "systemd-timesyncd",
                     "ssh_root_login": i.is_multiple_of(11), "ssh_permit_root_login": "no", "ssh_password_authentication": false, "antivirus": [], "antivirus_present": false},
        "software": {"package_count": 1500, "packages": packages, "versions": versions},
        "services": {"units": units, "failed": [], "running": ["cron.service", "prometheus-node-exporter.service"]},
        "listening": {"ports": [{"port": 22, "proto": "tcp"}, {"port": 443, "proto": "tcp"}, {"port": 9100, "proto": "tcp"}]},
        "network": {"nameservers": ["10.0.0.2", "10.0.0.3"]},
        "agent": {"days_since_report": 0, "collector_errors": [], "probes": [{"target": "https://intranet", "tls_days_left": 40}]},
        "uptime": {"days_since_boot": 12},
        "power": {"source": "none"},
    })
}

/// CPU time of this process (all threads), from `/proc/self/stat` (Linux; clock ticks
/// of 10 ms). On a shared machine wall time includes waiting for a core; CPU time does
/// not.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs `f`, returning its result, wall seconds and CPU seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
    (out, wall, cpu)
}

/// Each check alone (a one-check plan with evidence, so the per-host set-up is
/// included), costliest first.
fn per_check(catalogue: &Catalogue, host: &HostRef<'_>, now: DateTime<Utc>) {
    let mut costs: Vec<(f64, String)> = Vec::new();
    for check in catalogue.checks() {
        let mut profile = Profile::baseline();
        profile.selection.ids = vec![check.id.to_string()];
        let single = Plan::new(catalogue, &profile, &Waivers::none());
        let n = 20_000;
        let (_, _, cpu) = timed(|| {
            for _ in 0..n {
                std::hint::black_box(single.evaluate(host, now));
            }
        });
        costs.push((cpu * 1e6 / f64::from(n), check.id.to_string()));
    }
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, id) in costs {
        println!("  {us:8.2} µs CPU  {id}");
    }
}

fn main() {
    let hosts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let now: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let text = catalogue_toml();
    let (catalogue, wall, _) = timed(|| match Catalogue::parse(&[("bench.toml", &text)]) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    });
    println!(
        "load + compile {} checks: {:.1} ms",
        catalogue.len(),
        wall * 1e3
    );
    let config = ScoringConfig::default();
    let plan = Plan::new(&catalogue, &Profile::baseline(), &Waivers::none());
    let lean = Plan::new(&catalogue, &Profile::baseline(), &Waivers::none()).without_evidence();
    let labels = BTreeMap::new();

    // One host, repeated.
    let one = facts(1);
    let host = HostRef {
        id: "h",
        hostname: None,
        labels: &labels,
        facts: &one,
    };
    let errors: Vec<_> = plan
        .evaluate(&host, now)
        .results
        .into_iter()
        .filter(|r| r.error.is_some())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for (name, p) in [("with evidence", &plan), ("without evidence", &lean)] {
        let n = 20_000;
        let (passes, wall, cpu) = timed(|| {
            (0..n)
                .map(|_| {
                    let e = p.evaluate(&host, now);
                    score_host(&e.results, &config, None).total.counts.pass
                })
                .sum::<usize>()
        });
        println!(
            "one host, {} checks, {name}: {:.1} µs/host wall, {:.1} µs/host CPU (score included; {} passes)",
            p.len(),
            wall * 1e6 / f64::from(n),
            cpu * 1e6 / f64::from(n),
            passes / n as usize
        );
    }

    if std::env::var_os("CHECKS_BENCH_PER_CHECK").is_some() {
        per_check(&catalogue, &host, now);
    }

    // Optionally, a real catalogue on real facts documents.
    if let (Some(dir), Some(files)) = (
        std::env::var_os("CHECKS_BENCH_CATALOGUE"),
        std::env::var("CHECKS_BENCH_FACTS").ok(),
    ) {
        let real = match Catalogue::load(std::path::Path::new(&dir)) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let fast = real
            .checks()
            .iter()
            .flat_map(|c| [Some(c.rule.expr()), c.applies.as_ref(), c.evidence.as_ref()])
            .flatten()
            .map(|e| (usize::from(e.is_fast()), 1))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        println!(
            "{}: {} checks, {} of {} expressions run directly",
            std::path::Path::new(&dir).display(),
            real.len(),
            fast.0,
            fast.1
        );
        let plan = Plan::new(&real, &Profile::baseline(), &Waivers::none());
        let lean = Plan::new(&real, &Profile::baseline(), &Waivers::none()).without_evidence();
        for file in files.split(',') {
            let doc: Json = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            let host = HostRef {
                id: "h",
                hostname: None,
                labels: &labels,
                facts: &doc,
            };
            for (name, p) in [("with evidence", &plan), ("without evidence", &lean)] {
                let n = 20_000;
                let (_, wall, cpu) = timed(|| {
                    for _ in 0..n {
                        std::hint::black_box(p.evaluate(&host, now));
                    }
                });
                println!(
                    "  {file}, {name}: {:.1} µs/host wall, {:.1} µs/host CPU",
                    wall * 1e6 / f64::from(n),
                    cpu * 1e6 / f64::from(n)
                );
            }
            if std::env::var_os("CHECKS_BENCH_PER_CHECK").is_some() {
                per_check(&real, &host, now);
            }
        }
    }

    // What walking a list costs: `exists` over the 120 service units, alone.
    let scan = Catalogue::parse(&[(
        "scan.toml",
        "[[check]]\nid = \"scan\"\ntitle = \"scan\"\ncategory = \"operations\"\nseverity = \"low\"\nremediation = \"-\"\npass = \"facts.services.units.exists(u, u.name == 'cron.service' && u.state == 'active')\"\n",
    )])
    .unwrap();
    let scan_plan = Plan::new(&scan, &Profile::baseline(), &Waivers::none());
    let n = 5_000;
    let (_, wall, cpu) = timed(|| {
        for _ in 0..n {
            std::hint::black_box(scan_plan.evaluate(&host, now));
        }
    });
    println!(
        "one check scanning 120 units with exists(): {:.1} µs wall, {:.1} µs CPU ({:.2} µs CPU per element)",
        wall * 1e6 / f64::from(n),
        cpu * 1e6 / f64::from(n),
        cpu * 1e6 / f64::from(n) / 120.0
    );

    // Many hosts: a pool of distinct documents referenced in turn.
    let pool_size = std::env::var("CHECKS_BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let pool: Vec<Json> = (0..pool_size).map(facts).collect();
    let ids: Vec<String> = (0..hosts).map(|i| format!("host-{i}")).collect();
    let label_sets: Vec<BTreeMap<String, String>> = (0..5)
        .map(|k| {
            BTreeMap::from([(
                "criticality".to_owned(),
                if k == 0 { "high" } else { "normal" }.to_owned(),
            )])
        })
        .collect();
    let refs: Vec<HostRef<'_>> = (0..hosts)
        .map(|i| HostRef {
            id: &ids[i],
            hostname: None,
            labels: &label_sets[i % 5],
            facts: &pool[i % pool.len()],
        })
        .collect();
    let threads = default_threads();
    for (name, p) in [("without evidence", &lean), ("with evidence", &plan)] {
        let (evals, eval_wall, eval_cpu) = timed(|| p.evaluate_all(&refs, now, threads));
        let ((estate, top), score_wall, score_cpu) = timed(|| {
            let estate_hosts: Vec<EstateHost<'_>> = evals
                .iter()
                .zip(&refs)
                .map(|(e, h)| EstateHost {
                    results: &e.results,
                    labels: h.labels,
                })
                .collect();
            (
                score_estate(&estate_hosts, &config),
                estate_improvements(&estate_hosts, &config),
            )
        });
        println!(
            "{hosts} hosts × {} checks, {threads} threads, {name}: evaluate {eval_wall:.2} s wall / {eval_cpu:.2} s CPU; estate score + improvements {score_wall:.2} s wall / {score_cpu:.2} s CPU; total {:.1} µs/host wall",
            p.len(),
            (eval_wall + score_wall) * 1e6 / hosts as f64,
        );
        println!(
            "  estate score {:.3}; {} green, {} amber, {} red; top fix `{}` (+{:.3} on {} hosts)",
            estate.score.unwrap_or(f64::NAN),
            estate.bands.green,
            estate.bands.amber,
            estate.bands.red,
            top.first().map_or("-", |t| t.id.as_str()),
            top.first().map_or(0.0, |t| t.gain),
            top.first().map_or(0, |t| t.hosts_failing),
        );
    }
}
