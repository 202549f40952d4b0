//! The collector's ingest path on arbitrary bodies: gzip decoding with its size limit, the
//! JSON parse with schema-version and size checks, validation and the indexed parts the
//! store keeps. Nothing may panic, and a decoded body never exceeds the limit.
#![no_main]

use chrono::{TimeZone, Utc};
use estate_server::ingest;
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = ingest::decode_body(data.to_vec(), Some("gzip"), LIMIT) {
        assert!(decoded.len() as u64 <= LIMIT);
        check(&decoded);
    }
    check(data);
});

fn check(body: &[u8]) {
    let Ok(report) = ingest::parse_report(body) else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
        .single()
        .expect("a valid time");
    if ingest::validate(&report, now, std::time::Duration::from_secs(300)).is_ok() {
        let raw = String::from_utf8_lossy(body).into_owned();
        let _ = ingest::to_new_report(&report, raw, now);
    }
}
