//! The shipped catalogue on arbitrary facts documents: every check runs with the direct
//! evaluator and with cel alone and the outcomes must be identical (a differential test
//! of `checks/fast.rs`); nothing may panic however odd the facts.
#![no_main]

use std::sync::LazyLock;

use chrono::{TimeZone, Utc};
use estate_server::checks::{Catalogue, differential};
use libfuzzer_sys::fuzz_target;

static SHIPPED: LazyLock<Catalogue> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/checks");
    Catalogue::load(std::path::Path::new(dir)).expect("the shipped catalogue loads")
});

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
        .single()
        .expect("a valid time");
    let diffs = differential(&SHIPPED, &facts, now);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
});
