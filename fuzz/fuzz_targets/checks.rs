//! The check-file loaders on arbitrary text: a check catalogue file, a profile file or a
//! waiver file (against the shipped catalogue). Errors are fine (and located); panics are
//! not. A catalogue that loads has its fixtures run (both evaluators, compared).
#![no_main]

use std::sync::LazyLock;

use estate_server::checks::{Catalogue, Profiles, Waivers, run_fixtures};
use libfuzzer_sys::fuzz_target;

static SHIPPED: LazyLock<Catalogue> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/checks");
    Catalogue::load(std::path::Path::new(dir)).expect("the shipped catalogue loads")
});

// One loader per execution, picked by the first byte: `p` the profile loader, `w` the
// waiver loader, anything else the catalogue loader on the whole input (so a check file
// is a catalogue input as it stands). Running all three on every input spent two thirds
// of each execution parsing the same TOML again for loaders that refuse it.
// `server/tests/fuzz_regressions.rs` decodes regressions the same way.
fuzz_target!(|data: &[u8]| {
    let (loader, rest) = match data.split_first() {
        Some((b'p', rest)) => (b'p', rest),
        Some((b'w', rest)) => (b'w', rest),
        _ => (b'c', data),
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match loader {
        b'p' => {
            if let Err(e) = Profiles::parse(&[("fuzz/profiles/fuzz.toml", text)], &SHIPPED) {
                assert!(e.to_string().contains("fuzz.toml"), "{e}");
            }
        }
        b'w' => {
            if let Err(e) = Waivers::parse(text, "fuzz/waivers.toml", &SHIPPED) {
                assert!(e.to_string().contains("fuzz/waivers.toml"), "{e}");
            }
        }
        _ => match Catalogue::parse(&[("fuzz/checks/fuzz.toml", text)]) {
            Ok(catalogue) => {
                for outcome in run_fixtures(&catalogue) {
                    // A disagreement between the two evaluators is a bug in ours.
                    if let Some(m) = &outcome.mismatch {
                        assert!(!m.contains("the direct evaluator gave"), "{m}");
                    }
                }
            }
            Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
        },
    }
});
