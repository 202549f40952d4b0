//! Every input the fuzzers (`fuzz/`) found a bug with, replayed through the same checks
//! as its fuzz target, so a fixed bug stays fixed without libFuzzer. Inputs live in
//! `fuzz/regressions/TARGET/` (docs/security.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use estate_server::checks::{Catalogue, Profiles, Waivers, differential};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn facts_regressions_agree_between_the_evaluators() {
    let catalogue =
        Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/checks")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let cases = inputs("facts");
    assert!(
        !cases.is_empty(),
        "fuzz/regressions/facts holds the known cases"
    );
    for (path, bytes) in cases {
        let Ok(facts) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let diffs = differential(&catalogue, &facts, now);
        assert!(
            diffs.is_empty(),
            "{}:\n{}",
            path.display(),
            diffs.join("\n")
        );
    }
}

#[test]
fn report_regressions_are_refused_or_accepted_without_panicking() {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    for (_, bytes) in inputs("report") {
        for body in [
            estate_server::ingest::decode_body(bytes.clone(), Some("gzip"), 1 << 20).ok(),
            Some(bytes),
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(report) = estate_server::ingest::parse_report(&body) {
                let _ = estate_server::ingest::validate(
                    &report,
                    now,
                    std::time::Duration::from_secs(300),
                );
            }
        }
    }
}

#[test]
fn config_regressions_give_located_errors() {
    for (path, bytes) in inputs("config") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Err(e) = estate_server::config::ServerConfig::parse(text, "fuzz/server.toml") {
            assert!(
                e.to_string().contains("fuzz/server.toml"),
                "{}: {e}",
                path.display()
            );
        }
    }
}

/// As the `checks` target reads its input: a first byte `p` picks the profile loader,
/// `w` the waiver loader, anything else the catalogue loader on the whole input.
#[test]
fn check_file_regressions_give_located_errors() {
    let shipped =
        Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/checks")).unwrap();
    for (path, bytes) in inputs("checks") {
        let (loader, rest) = match bytes.split_first() {
            Some((b'p', rest)) => (b'p', rest),
            Some((b'w', rest)) => (b'w', rest),
            _ => (b'c', &bytes[..]),
        };
        let Ok(text) = std::str::from_utf8(rest) else {
            continue;
        };
        let error = match loader {
            b'p' => Profiles::parse(&[("fuzz/profiles/fuzz.toml", text)], &shipped).err(),
            b'w' => Waivers::parse(text, "fuzz/waivers.toml", &shipped).err(),
            _ => Catalogue::parse(&[("fuzz/checks/fuzz.toml", text)]).err(),
        };
        if let Some(e) = error {
            assert!(e.to_string().contains("fuzz"), "{}: {e}", path.display());
        }
    }
}
