//! Config files: every valid fixture and `config/server.toml` load; every invalid fixture
//! fails with exactly the messages in its `.expected` file.

use std::time::Duration;

use estate_server::config::{Backend, ServerConfig};

use crate::support::manifest_dir;

#[test]
fn the_example_config_is_valid_and_says_the_defaults() {
    let path = manifest_dir().join("../config/server.toml");
    let config = ServerConfig::load(&path).unwrap();
    let defaults = ServerConfig::default();
    assert_eq!(config.listen, defaults.listen);
    assert_eq!(config.body_limit_bytes, defaults.body_limit_bytes);
    assert_eq!(config.max_clock_skew, defaults.max_clock_skew);
    assert_eq!(config.storage, defaults.storage);
    assert_eq!(config.retention, defaults.retention);
    assert_eq!(config.metrics, defaults.metrics);
    assert_eq!(
        config.auth.enrolment_token_file.as_deref(),
        Some(std::path::Path::new("/etc/estate/enrolment-token"))
    );
}

#[test]
fn the_container_config_is_valid() {
    // dist/docker/server.Dockerfile installs it; the Debian package installs
    // config/server.toml (above).
    let path = manifest_dir().join("../config/docker/server.toml");
    let config = ServerConfig::load(&path).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:8470");
    assert_eq!(
        config.storage.backend,
        Backend::Sqlite("/var/lib/estate-server/estate.db".into())
    );
    assert_eq!(
        config.auth.enrolment_token_file.as_deref(),
        Some(std::path::Path::new("/run/secrets/estate-enrolment-token"))
    );
}

#[test]
fn valid_fixtures_load() {
    let dir = manifest_dir().join("tests/configs/valid");
    let minimal = ServerConfig::load(&dir.join("minimal.toml")).unwrap();
    assert_eq!(minimal.storage.backend, Backend::Sqlite("estate.db".into()));
    assert_eq!(
        minimal.retention.raw_reports,
        Duration::from_secs(30 * 86_400)
    );
    let pg = ServerConfig::load(&dir.join("postgres.toml")).unwrap();
    assert_eq!(
        pg.storage.backend,
        Backend::Postgres("postgresql://estate@db/estate".to_owned())
    );
    assert_eq!(pg.listen.to_string(), "[::]:8470");
}

#[test]
fn every_invalid_fixture_fails_with_its_expected_messages() {
    let dir = manifest_dir().join("tests/configs/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = format!(
            "configs/invalid/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let err = ServerConfig::parse(&text, &name).unwrap_err().to_string();
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        assert_eq!(format!("{err}\n"), expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} fixtures");
}

#[test]
fn a_missing_file_is_named() {
    let err = ServerConfig::load(std::path::Path::new("/nonexistent/server.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "/nonexistent/server.toml: No such file or directory (os error 2)"
    );
}
