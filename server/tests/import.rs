//! Agentless import (`estate_server::import`, `POST /api/v1/admin/import`): the committed
//! exports in `tests/fixtures/import/` give the expected hosts, checks and estimates;
//! awkward rows are reported by line; an agent's fresher data is kept; the API's
//! statuses and error codes, and a wholly bad file leaves the store as it was.
// Test helpers panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use estate_protocol::{Inventory, Report};
use estate_server::assess::{AssessConfig, Assessor};
use estate_server::import::{self, ApplyOptions, Format, ImportFile, Outcome, Parsed, Summary};
use estate_server::store::{SqliteStore, Store};
use serde_json::Value;

const ADMIN_TOKEN: &str = "admin-0123456789abcdef";

fn fixture(name: &str) -> ImportFile {
    let path = support::manifest_dir()
        .join("tests/fixtures/import")
        .join(name);
    ImportFile {
        name: name.to_owned(),
        bytes: std::fs::read(path).unwrap(),
    }
}

fn parse(format: Format, name: &str) -> Parsed {
    import::parse(format, &[fixture(name)]).unwrap()
}

fn options(format: Format, file: &str, as_of: DateTime<Utc>) -> ApplyOptions {
    ApplyOptions {
        format,
        file: file.to_owned(),
        now: Utc::now(),
        as_of,
        stale_after: Duration::from_secs(900),
        max_clock_skew: Duration::from_secs(300),
    }
}

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("estate.db"), 1024, 64).unwrap());
    (dir, store)
}

/// Imports `name` into `store` and assesses the hosts stored, as the CLI does.
async fn import_and_assess(store: &Arc<dyn Store>, format: Format, name: &str) -> Summary {
    let summary = import::apply(
        store.as_ref(),
        parse(format, name),
        &options(format, name, Utc::now()),
    )
    .await
    .unwrap();
    let assessor = Arc::new(Assessor::load(&AssessConfig::default()).unwrap());
    for id in summary.stored_host_ids() {
        estate_server::pipeline::assess_host(store.as_ref(), &assessor, &id)
            .await
            .unwrap();
    }
    summary
}

async fn inventory(store: &Arc<dyn Store>, host_id: &str) -> Inventory {
    let host = store.host(host_id.to_owned()).await.unwrap().unwrap();
    serde_json::from_value(host.inventory.unwrap()).unwrap()
}

/// The stored assessment: statuses by check, and the whole detail.
async fn assessment(
    store: &Arc<dyn Store>,
    host_id: &str,
) -> (std::collections::BTreeMap<String, String>, Value) {
    let (record, _) = store.assessment(host_id.to_owned()).await.unwrap().unwrap();
    let detail: Value = serde_json::from_str(&record.detail_json).unwrap();
    (record.statuses, detail)
}

const APP01: &str = "4237c4bf-1a2b-3c4d-8e9f-a0b1c2d3e4f5";
/// APP01's BIOS UUID as a Linux guest reads it from SMBIOS (first three groups swapped).
const APP01_SMBIOS: &str = "bfc43742-2b1a-4d3c-8e9f-a0b1c2d3e4f5";
const OLD_FTP: &str = "4237aaaa-0001-0002-0003-000000000002";
const GIB: u64 = 1024 * 1024 * 1024;

#[tokio::test]
async fn rvtools_workbook_gives_the_expected_hosts_checks_and_estimates() {
    let (_dir, store) = store();
    let s = import_and_assess(&store, Format::Rvtools, "rvtools.xlsx").await;
    assert_eq!(
        (s.imported, s.merged, s.skipped, s.bad),
        (3, 0, 0, 0),
        "{s:#?}"
    );
    // The template is left out, by its row number; the empty row 5 is not counted.
    assert_eq!(s.ignored_rows.len(), 1);
    assert_eq!(s.ignored_rows[0].line, 4);
    let lines: Vec<(u64, &str)> = s.hosts.iter().map(|h| (h.line, h.name.as_str())).collect();
    assert_eq!(lines, [(2, "app01"), (3, "db01"), (6, "old-ftp")]);

    let host = store.host(APP01.to_owned()).await.unwrap().unwrap();
    assert_eq!(host.hostname, "app01.council.local");
    assert_eq!(host.labels["source"], "import");
    assert_eq!(host.labels["import_format"], "rvtools");
    assert_eq!(host.labels["import_file"], "rvtools.xlsx");
    assert_eq!(host.labels["vmware_cluster"], "Prod");
    assert_eq!(host.labels["vmware_host"], "esx01.council.local");
    assert_eq!(host.facets.machine_kind.as_deref(), Some("vm"));
    let inv = inventory(&store, APP01).await;
    let cpu = inv.cpu.unwrap();
    assert_eq!((cpu.logical_cpus, cpu.sockets), (4, 2), "vCPU sheet joined");
    assert_eq!(
        cpu.model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
        "vHost joined"
    );
    assert_eq!(cpu.max_mhz, Some(2100.0));
    assert_eq!(inv.memory.unwrap().total_bytes, 16 * GIB);
    let disks: Vec<u64> = inv.disks.unwrap().iter().map(|d| d.size_bytes).collect();
    assert_eq!(disks, [100 * GIB, 200 * GIB], "vDisk joined");
    let os = inv.os.unwrap();
    assert_eq!(os.build.as_deref(), Some("9600"));
    assert_eq!(
        os.boot_time.to_rfc3339(),
        "2026-06-01T03:00:00+00:00",
        "PowerOn date cell"
    );
    assert!(inv.security.is_none() && inv.filesystems.is_none() && inv.network.is_none());

    // Checks: what the export says is judged; what it lacks is unknown, never failed.
    let (statuses, detail) = assessment(&store, APP01).await;
    assert_eq!(
        statuses["lifecycle.os-supported"], "fail",
        "Server 2012 R2 is out of support"
    );
    assert_eq!(statuses["operations.agent-reporting"], "not_applicable");
    for unknown in [
        "security.firewall-active",
        "security.patched-recently",
        "security.time-sync",
    ] {
        assert_eq!(statuses[unknown], "error", "{unknown}");
    }
    assert_eq!(detail["readiness"]["readiness"], "not_ready");
    let (statuses, _) = assessment(&store, OLD_FTP).await;
    assert_eq!(
        statuses["resilience.rebooted-recently"], "error",
        "powered off, no power-on time: uptime unknown"
    );
    assert_eq!(statuses["operations.agent-reporting"], "not_applicable");

    // Estimates: on-premises and every scenario, at one star (no utilisation history).
    for id in [APP01, OLD_FTP] {
        let (_, detail) = assessment(&store, id).await;
        let carbon = &detail["carbon"];
        assert!(carbon["onprem"].is_object(), "{id}: {carbon}");
        let scenarios = carbon["scenarios"].as_array().unwrap();
        assert!(!scenarios.is_empty(), "{id}");
        for s in scenarios {
            assert_eq!(s["confidence"], 1, "{id}: {s}");
        }
    }
}

#[tokio::test]
async fn awkward_rows_are_reported_by_line_and_good_rows_still_import() {
    // RVTools vInfo as CSV: BOM, CRLF, quoted comma, thousands separators, an empty row.
    let p = parse(Format::Rvtools, "rvtools-vInfo.csv");
    assert_eq!(p.hosts.len(), 1);
    let web = &p.hosts[0];
    assert_eq!((web.line, web.name.as_str()), (2, "web01"));
    assert_eq!(web.memory_bytes, Some(8 * GIB), "\"8,192\" MiB");
    assert_eq!(web.disks, [("disks (total)".to_owned(), 60 * GIB)]);
    assert_eq!(
        web.uuids[0].to_string(),
        "bfc43742-2b1a-4d3c-8e9f-a0b1c2d3e4f0"
    );
    assert_eq!(p.bad.len(), 1);
    assert_eq!(p.bad[0].line, 4);
    assert!(
        p.bad[0].reason.contains("CPUs: `two` is not a number"),
        "{}",
        p.bad[0].reason
    );

    // Estate CSV: BOM, CRLF, units in cells, quoted commas, an empty row, a duplicate name.
    let p = parse(Format::EstateCsv, "awkward-estate.csv");
    let names: Vec<(u64, &str)> = p.hosts.iter().map(|h| (h.line, h.name.as_str())).collect();
    assert_eq!(names, [(2, "appliance1"), (4, "nas, old")]);
    let appliance = &p.hosts[0];
    assert_eq!(appliance.memory_bytes, Some(4 * GIB), "\"4 GB\"");
    let disks: Vec<u64> = appliance.disks.iter().map(|d| d.1).collect();
    assert_eq!(disks, [40 * GIB, 100 * GIB], "\"40;100 GB\"");
    assert_eq!(appliance.cpu_util_ratio, Some(0.07), "\"7 %\"");
    assert_eq!(
        p.hosts[1].memory_bytes,
        Some(16384 * 1024 * 1024),
        "\"16,384\""
    );
    assert_eq!(p.hosts[1].disks[0].1, 2048 * GIB, "\"2 TB\"");
    let bad: Vec<u64> = p.bad.iter().map(|b| b.line).collect();
    assert_eq!(bad, [5, 6], "{:#?}", p.bad);
    assert!(
        p.bad[0].reason.contains("duplicate of line 2"),
        "{}",
        p.bad[0].reason
    );
    for part in [
        "cpus: `four`",
        "memory_mib: `lots`",
        "cpu_util_percent: `150`",
    ] {
        assert!(
            p.bad[1].reason.contains(part),
            "{part}: {}",
            p.bad[1].reason
        );
    }

    // Azure Migrate: a row without its mandatory Cores.
    let p = parse(Format::AzureMigrate, "azure-migrate.csv");
    assert_eq!(p.hosts.len(), 2);
    assert_eq!(p.bad.len(), 1);
    assert_eq!(p.bad[0].line, 4);
    assert!(
        p.bad[0].reason.contains("no core count"),
        "{}",
        p.bad[0].reason
    );
}

#[tokio::test]
async fn azure_migrate_and_estate_csv_hosts_are_assessed_and_estimated() {
    let (_dir, store) = store();
    let s = import_and_assess(&store, Format::AzureMigrate, "azure-migrate.csv").await;
    assert_eq!((s.imported, s.bad), (2, 1));
    let fs01 = "2b9e0a4c-5d3f-4e61-9a7b-0c1d2e3f4a5b";
    let host = store.host(fs01.to_owned()).await.unwrap().unwrap();
    assert_eq!(host.hostname, "fs01.council.local");
    let inv = inventory(&store, fs01).await;
    assert_eq!(inv.os.as_ref().unwrap().build.as_deref(), Some("14393"));
    assert_eq!(inv.os.unwrap().arch, "x86_64");
    let disks: Vec<u64> = inv.disks.unwrap().iter().map(|d| d.size_bytes).collect();
    assert_eq!(disks, [127 * GIB, 1024 * GIB]);
    let (statuses, detail) = assessment(&store, fs01).await;
    assert_eq!(
        statuses["lifecycle.os-supported"], "pass",
        "Server 2016 is in extended support"
    );
    // One utilisation figure, no history: sizing reads it, confidence stays at one star.
    assert_eq!(statuses["operations.utilisation-history"], "fail");
    for s in detail["carbon"]["scenarios"].as_array().unwrap() {
        assert_eq!(s["confidence"], 1, "{s}");
    }
    // The legacy host (CentOS 7, out of support) without a UUID is keyed by its FQDN.
    let (statuses, _) = assessment(&store, "legacy-app.council.local").await;
    assert_eq!(statuses["lifecycle.os-supported"], "fail");

    let s = import_and_assess(&store, Format::EstateCsv, "estate.csv").await;
    assert_eq!((s.imported, s.bad), (2, 0));
    let host = store
        .host("printsrv.council.local".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(host.labels["role"], "print");
    assert_eq!(host.facets.machine_kind.as_deref(), Some("vm"));
    let badge = store
        .host("import-badge-ctl".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(badge.facets.machine_kind.as_deref(), Some("physical"));
    let (statuses, _) = assessment(&store, "import-badge-ctl").await;
    assert_eq!(statuses["operations.agent-reporting"], "not_applicable");
}

/// Stores a protocol example as an agent's report for `host_id`, collected at `at`.
async fn agent_report(store: &Arc<dyn Store>, host_id: &str, hostname: &str, at: DateTime<Utc>) {
    let mut value = support::example("full-report-debian-vm", host_id);
    value["hostname"] = Value::from(hostname);
    value["collected_at"] = Value::from(at.to_rfc3339());
    value["window"]["start"] = Value::from((at - chrono::Duration::minutes(5)).to_rfc3339());
    value["window"]["end"] = Value::from(at.to_rfc3339());
    let raw = value.to_string();
    let report: Report = serde_json::from_str(&raw).unwrap();
    let new = estate_server::ingest::to_new_report(&report, raw, at).unwrap();
    store.ingest(new).await.unwrap();
}

#[tokio::test]
async fn merge_with_an_agent_reported_host_keeps_the_agents_data() {
    let (_dir, store) = store();
    let now = Utc::now();
    // app01's agent reads the byte-swapped SMBIOS UUID and reported a minute ago.
    agent_report(
        &store,
        APP01_SMBIOS,
        "app01",
        now - chrono::Duration::minutes(1),
    )
    .await;
    // db01's agent (machine-id host id) went silent two days ago.
    agent_report(
        &store,
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "db01.council.local",
        now - chrono::Duration::days(2),
    )
    .await;
    let agent_inventory = inventory(&store, APP01_SMBIOS).await;

    let s = import::apply(
        store.as_ref(),
        parse(Format::Rvtools, "rvtools.xlsx"),
        &options(Format::Rvtools, "rvtools.xlsx", now),
    )
    .await
    .unwrap();
    assert_eq!((s.imported, s.merged, s.skipped), (1, 1, 1), "{s:#?}");
    let app01 = s.hosts.iter().find(|h| h.name == "app01").unwrap();
    assert_eq!(app01.outcome, Outcome::Skipped);
    assert_eq!(app01.host_id, APP01_SMBIOS);
    assert!(app01.detail.contains("BIOS UUID"), "{}", app01.detail);
    // The reporting agent's host is untouched, and no second host was made for it.
    assert_eq!(inventory(&store, APP01_SMBIOS).await, agent_inventory);
    assert!(store.host(APP01.to_owned()).await.unwrap().is_none());
    let host = store.host(APP01_SMBIOS.to_owned()).await.unwrap().unwrap();
    assert!(!host.labels.contains_key("import_format"));

    // The silent agent's host is merged by FQDN: its sections stay, its name stays.
    let db01 = s.hosts.iter().find(|h| h.name == "db01").unwrap();
    assert_eq!(db01.outcome, Outcome::Merged);
    assert!(
        db01.detail.contains("FQDN db01.council.local"),
        "{}",
        db01.detail
    );
    let id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let merged = inventory(&store, id).await;
    let example: Report =
        serde_json::from_value(support::example("full-report-debian-vm", id)).unwrap();
    let agent = example.inventory.unwrap();
    assert_eq!(merged.os, agent.os, "the agent's OS section is kept");
    assert_eq!(merged.cpu, agent.cpu, "the agent's CPU section is kept");
    assert_eq!(merged.software, agent.software);
    let host = store.host(id.to_owned()).await.unwrap().unwrap();
    assert_eq!(host.hostname, "db01.council.local");
    assert_eq!(host.labels["import_format"], "rvtools");
    assert!(!host.labels.contains_key("source"), "still an agent's host");

    // An export older than the agent's last report changes nothing.
    let before = store.counts().await.unwrap();
    let s = import::apply(
        store.as_ref(),
        parse(Format::Rvtools, "rvtools.xlsx"),
        &options(
            Format::Rvtools,
            "rvtools.xlsx",
            now - chrono::Duration::days(3),
        ),
    )
    .await
    .unwrap();
    let db01 = s.hosts.iter().find(|h| h.name == "db01").unwrap();
    assert_eq!(db01.outcome, Outcome::Skipped, "{db01:?}");
    assert_eq!(s.skipped, 3, "{s:#?}");
    assert_eq!(store.counts().await.unwrap(), before);
}

async fn post_import(
    addr: std::net::SocketAddr,
    query: &str,
    token: Option<&str>,
    body: &[u8],
) -> support::Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/octet-stream")];
    if let Some(a) = auth.as_deref() {
        headers.push(("Authorization", a));
    }
    support::request(
        addr,
        "POST",
        &format!("/api/v1/admin/import{query}"),
        &headers,
        body,
    )
    .await
}

#[tokio::test]
async fn the_import_endpoint_answers_with_statuses_and_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin-token");
    std::fs::write(&admin, format!("{ADMIN_TOKEN}\n")).unwrap();
    let t = support::start(false, move |c| c.admin_token_file = Some(admin)).await;
    let addr = t.addr();
    let store = t.server.store();
    let azure = fixture("azure-migrate.csv").bytes;

    let r = post_import(addr, "?format=azure-migrate", None, &azure).await;
    assert_eq!(r.status, 401);
    let r = post_import(
        addr,
        "?format=azure-migrate",
        Some(support::ENROLMENT_TOKEN),
        &azure,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post_import(addr, "?format=vmware", Some(ADMIN_TOKEN), &azure).await;
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (400, Some("unknown_import_format"))
    );
    let r = post_import(
        addr,
        "?format=rvtools",
        Some(ADMIN_TOKEN),
        b"PK\x03\x04not a zip",
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (422, Some("unreadable_import"))
    );
    let r = post_import(addr, "?format=estate-csv", Some(ADMIN_TOKEN), &azure).await;
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (422, Some("import_missing_column"))
    );
    // A wholly bad file: every row listed, nothing stored.
    let bad = b"name,cpus,memory_mib\nx,four,1024\ny,2,lots\n";
    let r = post_import(
        addr,
        "?format=estate-csv&file=bad.csv",
        Some(ADMIN_TOKEN),
        bad,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (422, Some("nothing_importable"))
    );
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("bad.csv:2:") && message.contains("bad.csv:3:"),
        "{message}"
    );
    assert_eq!(store.counts().await.unwrap().hosts, 0);

    let r = post_import(
        addr,
        "?format=azure-migrate&file=azure-migrate.csv",
        Some(ADMIN_TOKEN),
        &azure,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let summary = r.json();
    assert_eq!(
        (summary["imported"].as_u64(), summary["bad"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(summary["bad_rows"][0]["line"], 4);
    assert_eq!(summary["bad_rows"][0]["file"], "azure-migrate.csv");
    assert_eq!(store.counts().await.unwrap().hosts, 2);
    // The hosts are queued for assessment like any reporting host.
    let id = "2b9e0a4c-5d3f-4e61-9a7b-0c1d2e3f4a5b";
    let mut assessed = None;
    for _ in 0..100 {
        assessed = store.assessment(id.to_owned()).await.unwrap();
        if assessed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (record, _) = assessed.expect("the imported host is assessed");
    assert_eq!(
        record.statuses["operations.agent-reporting"],
        "not_applicable"
    );
}
