//! End-to-end: `estate-agent simulate --hosts 50 --once` against a real `estate-server`
//! (both as processes, on loopback, in a temporary directory). Every simulated host must
//! enrol and be stored with its inventory, and the collector's host list must show the
//! council mix: Windows and Linux, laptops, desktops and VMs, physical and virtual
//! machines, several sites and roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use estate_tests::{Proc, http_get, poll_until, toml_string, workspace_bin};
use serde_json::Value;

const HOSTS: usize = 50;
/// Longest wait for the collector to start.
const WAIT: Duration = Duration::from_secs(30);
/// Longest the simulator may take for 50 hosts (debug builds on a loaded machine).
const SIMULATE_WAIT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(50);

fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Starts the collector on a kernel-chosen port; answers it and its address.
fn start_server(dir: &tempfile::TempDir) -> (Proc, SocketAddr) {
    let config = path(dir, "server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [storage]\nsqlite_path = {}\n\n\
             [auth]\nenrolment_token_file = {}\n",
            toml_string(&path(dir, "estate.db")),
            toml_string(&path(dir, "enrolment-token")),
        ),
    )
    .unwrap();
    let mut command = Command::new(workspace_bin("estate-server"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .env_remove("ESTATE_LOG");
    let mut server = Proc::spawn("estate-server", command, &path(dir, "server.log")).unwrap();
    let addr = poll_until(WAIT, POLL, || {
        if server.try_wait().is_some() {
            return Some(None);
        }
        server
            .log()
            .lines()
            .filter(|line| line.contains("collector listening"))
            .find_map(|line| line.split("addr=").nth(1))
            .and_then(|addr| addr.split_whitespace().next())
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .map(Some)
    });
    let Some(Some(addr)) = addr else {
        panic!(
            "the collector did not start listening (exit: {:?})\n{}",
            server.try_wait(),
            server.log_tail(40)
        );
    };
    (server, addr)
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let response = http_get(addr, path).unwrap();
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

fn values(hosts: &[Value], key: &str) -> BTreeSet<String> {
    hosts
        .iter()
        .filter_map(|h| h[key].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn fifty_simulated_hosts_enrol_and_are_stored_with_their_inventories() {
    let dir = tempfile::Builder::new()
        .prefix("estate-simulate-")
        .tempdir()
        .unwrap();
    std::fs::write(
        path(&dir, "enrolment-token"),
        "e2e-simulate-enrolment-token-0123456789\n",
    )
    .unwrap();
    let (server, addr) = start_server(&dir);

    let mut command = Command::new(workspace_bin("estate-agent"));
    command
        .arg("simulate")
        .args(["--hosts", &HOSTS.to_string(), "--once", "--seed", "7"])
        .args(["--collector", &format!("http://{addr}")])
        .arg("--enrolment-token-file")
        .arg(path(&dir, "enrolment-token"))
        .args(["--concurrency", "8", "--duration-secs", "150"])
        .args(["--progress-secs", "0", "--json"])
        .env("ESTATE_LOG", "warn");
    let mut simulator = Proc::spawn(
        "estate-agent simulate",
        command,
        &path(&dir, "simulate.log"),
    )
    .unwrap();
    let status = poll_until(SIMULATE_WAIT, Duration::from_millis(100), || {
        simulator.try_wait()
    });
    let log = simulator.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "the simulator did not finish successfully: {status:?}\n{}\n{}",
        simulator.log_tail(40),
        server.log_tail(20)
    );
    // The summary (`--json`) on standard output.
    let summary: Value = log
        .lines()
        .find_map(|line| {
            line.starts_with('{')
                .then(|| serde_json::from_str(line).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no JSON summary in the simulator's output\n{log}"));
    assert_eq!(summary["hosts"], HOSTS);
    assert_eq!(summary["enrolled"], HOSTS, "{summary}");
    assert_eq!(summary["acknowledged"], HOSTS, "{summary}");
    assert_eq!(summary["with_inventory"], HOSTS, "{summary}");
    assert_eq!(summary["duplicates"], 0, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert!(summary["latency_p50_ms"].as_f64().is_some(), "{summary}");
    assert!(summary["latency_p99_ms"].as_f64().is_some(), "{summary}");

    // The collector holds every host with its inventory.
    let page = get_json(addr, "/api/v1/hosts?limit=1000");
    assert_eq!(page["total"], HOSTS, "{page}");
    let hosts = page["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), HOSTS);
    for host in &hosts {
        assert!(host["inventory_hash"].is_string(), "no inventory: {host}");
        assert_eq!(host["inventory_hash"], host["reported_inventory_hash"]);
        assert!(host["os_family"].is_string(), "{host}");
        for label in ["site", "role", "criticality"] {
            assert!(
                host["labels"][label].is_string(),
                "no {label} label: {host}"
            );
        }
    }
    // The mix.
    let families = values(&hosts, "os_family");
    let kinds = values(&hosts, "machine_kind");
    let chassis = values(&hosts, "chassis");
    assert!(
        families.contains("windows") && families.contains("linux"),
        "{families:?}"
    );
    assert!(
        kinds.contains("physical") && kinds.contains("vm"),
        "{kinds:?}"
    );
    for expected in ["laptop", "desktop", "virtual"] {
        assert!(
            chassis.contains(expected),
            "{expected} missing: {chassis:?}"
        );
    }
    let windows = hosts.iter().filter(|h| h["os_family"] == "windows").count();
    assert!(windows >= 40, "{windows} Windows hosts of {HOSTS}");
    let sites: BTreeSet<String> = hosts
        .iter()
        .filter_map(|h| h["labels"]["site"].as_str().map(str::to_owned))
        .collect();
    let roles: BTreeSet<String> = hosts
        .iter()
        .filter_map(|h| h["labels"]["role"].as_str().map(str::to_owned))
        .collect();
    assert!(sites.len() >= 4, "{sites:?}");
    assert!(
        roles.contains("laptop") && roles.contains("desktop"),
        "{roles:?}"
    );

    // One Windows host in full: its inventory is the Windows agent's shape.
    let windows_host = hosts.iter().find(|h| h["os_family"] == "windows").unwrap();
    let id = windows_host["host_id"].as_str().unwrap();
    let host = get_json(addr, &format!("/api/v1/hosts/{id}"));
    let inventory = &host["inventory"];
    assert!(inventory["os"]["build"].is_string(), "{host}");
    assert_eq!(inventory["services"]["manager"], "windows-scm");
    assert_eq!(inventory["software"]["sources"][0], "windows-registry");

    // The estate summary counts them too.
    let estate = get_json(addr, "/api/v1/estate/summary");
    assert!(estate.to_string().contains("windows"), "{estate}");
}
