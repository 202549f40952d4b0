//! The check-file loaders on arbitrary text: a check catalogue file, then profiles and
//! waivers against the shipped catalogue. Errors are fine (and located); panics are not.
//! A catalogue that loads has its fixtures run (both evaluators, compared).
#![no_main]

use std::sync::LazyLock;

use estate_server::checks::{Catalogue, Profiles, Waivers, run_fixtures};
use libfuzzer_sys::fuzz_target;

static SHIPPED: LazyLock<Catalogue> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/checks");
    Catalogue::load(std::path::Path::new(dir)).expect("the shipped catalogue loads")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Catalogue::parse(&[("fuzz/checks/fuzz.toml", text)]) {
        Ok(catalogue) => {
            for outcome in run_fixtures(&catalogue) {
                // A disagreement between the two evaluators is a bug in ours.
                if let Some(m) = &outcome.mismatch {
                    assert!(!m.contains("the direct evaluator gave"), "{m}");
                }
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
    let _ = Profiles::parse(&[("fuzz/profiles/fuzz.toml", text)], &SHIPPED);
    let _ = Waivers::parse(text, "fuzz/waivers.toml", &SHIPPED);
});
