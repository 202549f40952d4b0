//! Helpers for Estate's end-to-end tests: finding the workspace's binaries and running
//! them as real processes.
#![deny(missing_docs)]

use std::path::PathBuf;

/// Path of a binary built by this workspace (`target/<profile>/<name>`), found next to
/// the running test executable (`target/<profile>/deps/...`). `cargo test --workspace`
/// builds every binary before it runs any test.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} does not exist: build it first (cargo build -p {name}, or run the tests with cargo test --workspace)",
        path.display()
    );
    path
}
