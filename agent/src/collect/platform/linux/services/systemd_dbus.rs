//! systemd's D-Bus API: `org.freedesktop.systemd1.Manager.ListUnits` and
//! `ListUnitFiles` on the system bus, and the mapping of their answers to
//! [`ServiceUnit`]s.
//!
//! This module owns the wire shapes and the mapping; the bus is only reached in
//! [`query`]. Mapping is a pure function so it can be tested on recorded answers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use estate_protocol::ServiceUnit;
use zbus::zvariant::OwnedObjectPath;

use super::unit_files::{is_listed_unit, template_of};

/// How long one D-Bus call may take before the unit files are used instead (three
/// calls — `Hello`, `ListUnits`, `ListUnitFiles` — stay well inside the collector's
/// 5 s budget).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Load state given to unit files that systemd has not loaded (they are, by
/// definition, `inactive`/`dead`).
pub const NOT_LOADED: &str = "not-loaded";

/// One element of `ListUnits`' answer, signature `(ssssssouso)`.
pub type UnitTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// What systemd answered: loaded units, and unit files as (path, enablement).
pub type Answer = (Vec<ListedUnit>, Vec<(String, String)>);

/// A unit as `ListUnits` describes it (object paths as strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ListedUnit {
    /// Unit name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Load state.
    pub load_state: String,
    /// Active state.
    pub active_state: String,
    /// Sub state.
    pub sub_state: String,
    /// Unit this one follows, or empty.
    pub following: String,
    /// Object path of the unit.
    pub unit_path: String,
    /// Queued job id, 0 when none.
    pub job_id: u32,
    /// Queued job type, or empty.
    pub job_type: String,
    /// Object path of the job, or `/`.
    pub job_path: String,
}

impl From<UnitTuple> for ListedUnit {
    fn from(t: UnitTuple) -> Self {
        ListedUnit {
            name: t.0,
            description: t.1,
            load_state: t.2,
            active_state: t.3,
            sub_state: t.4,
            following: t.5,
            unit_path: t.6.as_str().to_owned(),
            job_id: t.7,
            job_type: t.8,
            job_path: t.9.as_str().to_owned(),
        }
    }
}

/// Maps `ListUnits` and `ListUnitFiles` answers to service units, sorted by name.
///
/// Listed types only (`.service`, `.socket`, `.timer`). Enablement comes from the
/// unit file of the same name, else from the instance's template. Unit files that
/// systemd has not loaded are added with load state [`NOT_LOADED`], `inactive`,
/// `dead`.
pub fn map_units(units: Vec<ListedUnit>, files: &[(String, String)]) -> Vec<ServiceUnit> {
    let states: BTreeMap<&str, &str> = files
        .iter()
        .map(|(path, state)| (path.rsplit('/').next().unwrap_or(path), state.as_str()))
        .collect();
    let enabled_of = |name: &str| -> Option<String> {
        states
            .get(name)
            .or_else(|| template_of(name).and_then(|t| states.get(t.as_str())))
            .map(|s| (*s).to_owned())
    };
    let mut seen = BTreeSet::new();
    let mut out: Vec<ServiceUnit> = units
        .into_iter()
        .filter(|u| is_listed_unit(&u.name))
        .filter(|u| seen.insert(u.name.clone()))
        .map(|u| ServiceUnit {
            enabled: enabled_of(&u.name),
            name: u.name,
            description: u.description,
            load_state: u.load_state,
            active_state: u.active_state,
            sub_state: u.sub_state,
        })
        .collect();
    for (name, state) in &states {
        // Templates cannot be loaded themselves; their instances are listed.
        if is_listed_unit(name) && !name.contains("@.") && !seen.contains(*name) {
            out.push(ServiceUnit {
                name: (*name).to_owned(),
                description: String::new(),
                load_state: NOT_LOADED.to_owned(),
                active_state: "inactive".to_owned(),
                sub_state: "dead".to_owned(),
                enabled: Some((*state).to_owned()),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Escapes a path for a D-Bus address (`unix:path=...`).
fn address_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_/.\\*".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// Asks systemd over the bus socket at `socket` (a path on this machine) for its
/// units and unit files.
pub fn query(socket: &Path) -> Result<Answer, zbus::Error> {
    let address = format!("unix:path={}", address_escape(&socket.to_string_lossy()));
    let conn = zbus::blocking::connection::Builder::address(address.as_str())?
        .method_timeout(CALL_TIMEOUT)
        .build()?;
    let call = |method: &str| {
        conn.call_method(
            Some("org.freedesktop.systemd1"),
            "/org/freedesktop/systemd1",
            Some("org.freedesktop.systemd1.Manager"),
            method,
            &(),
        )
    };
    let units: Vec<UnitTuple> = call("ListUnits")?.body().deserialize()?;
    let files: Vec<(String, String)> = call("ListUnitFiles")?.body().deserialize()?;
    Ok((units.into_iter().map(ListedUnit::from).collect(), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded answer in `busctl --json=short` form: `{"type": SIG, "data": [ARG]}`.
    #[derive(serde::Deserialize)]
    struct Capture<T> {
        #[serde(rename = "type")]
        signature: String,
        data: (T,),
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dbus")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    type JsonTuple = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        u32,
        String,
        String,
    );

    fn recorded() -> (Vec<ListedUnit>, Vec<(String, String)>) {
        let units: Capture<Vec<JsonTuple>> =
            serde_json::from_str(&fixture("debian-kvm-list-units.json")).unwrap();
        assert_eq!(units.signature, "a(ssssssouso)");
        let files: Capture<Vec<(String, String)>> =
            serde_json::from_str(&fixture("debian-kvm-list-unit-files.json")).unwrap();
        assert_eq!(files.signature, "a(ss)");
        let units = units
            .data
            .0
            .into_iter()
            .map(|t| ListedUnit {
                name: t.0,
                description: t.1,
                load_state: t.2,
                active_state: t.3,
                sub_state: t.4,
                following: t.5,
                unit_path: t.6,
                job_id: t.7,
                job_type: t.8,
                job_path: t.9,
            })
            .collect();
        (units, files.data.0)
    }

    fn unit(name: &str, d: &str, l: &str, a: &str, s: &str, e: Option<&str>) -> ServiceUnit {
        ServiceUnit {
            name: name.to_owned(),
            description: d.to_owned(),
            load_state: l.to_owned(),
            active_state: a.to_owned(),
            sub_state: s.to_owned(),
            enabled: e.map(str::to_owned),
        }
    }

    #[test]
    fn recorded_list_units_maps_to_service_units() {
        let (units, files) = recorded();
        let mapped = map_units(units, &files);
        let names: Vec<&str> = mapped.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "apt-daily-upgrade.service",
                "apt-daily-upgrade.timer",
                "apt-daily.service",
                "apt-daily.timer",
                "cron.service",
                "dbus.service",
                "dbus.socket",
                "getty@tty1.service",
                "nftables.service",
                "nginx.service",
                "qemu-guest-agent.service",
                "ssh.service",
                "systemd-journald.service",
                "systemd-journald.socket",
                "systemd-resolved.service",
                "systemd-timesyncd.service",
                "ufw.service",
                "unattended-upgrades.service",
            ]
        );
        let get = |n: &str| mapped.iter().find(|u| u.name == n).unwrap().clone();
        assert_eq!(
            get("nginx.service"),
            unit(
                "nginx.service",
                "A high performance web server and a reverse proxy server",
                "loaded",
                "active",
                "running",
                Some("enabled")
            )
        );
        // Instance: enablement from its template's unit file.
        assert_eq!(
            get("getty@tty1.service").enabled.as_deref(),
            Some("enabled")
        );
        assert_eq!(get("apt-daily.service").enabled.as_deref(), Some("static"));
        assert_eq!(get("apt-daily.service").sub_state, "dead");
        assert_eq!(get("qemu-guest-agent.service").active_state, "failed");
        // Not loaded by systemd, known from ListUnitFiles only.
        assert_eq!(
            get("nftables.service"),
            unit(
                "nftables.service",
                "",
                "not-loaded",
                "inactive",
                "dead",
                Some("disabled")
            )
        );
    }

    #[test]
    fn real_dbus_tuples_convert() {
        let t: UnitTuple = (
            "ssh.service".into(),
            "OpenBSD Secure Shell server".into(),
            "loaded".into(),
            "active".into(),
            "running".into(),
            String::new(),
            OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/ssh_2eservice").unwrap(),
            0,
            String::new(),
            OwnedObjectPath::try_from("/").unwrap(),
        );
        let u = ListedUnit::from(t);
        assert_eq!(u.unit_path, "/org/freedesktop/systemd1/unit/ssh_2eservice");
        let mapped = map_units(
            vec![u],
            &[("/lib/systemd/system/ssh.service".into(), "enabled".into())],
        );
        assert_eq!(mapped.len(), 1);
        assert_eq!(mapped[0].enabled.as_deref(), Some("enabled"));
    }

    #[test]
    fn addresses_are_escaped() {
        assert_eq!(
            address_escape("/tmp/a b;c/run/dbus/system_bus_socket"),
            "/tmp/a%20b%3bc/run/dbus/system_bus_socket"
        );
    }

    #[test]
    fn a_socket_nobody_listens_on_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus");
        std::fs::write(&path, b"").unwrap();
        let started = std::time::Instant::now();
        assert!(query(&path).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A stand-in for systemd's manager object, served on a real bus.
    struct FakeManager;

    #[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
    impl FakeManager {
        fn list_units(&self) -> Vec<UnitTuple> {
            vec![(
                "nginx.service".into(),
                "A high performance web server and a reverse proxy server".into(),
                "loaded".into(),
                "active".into(),
                "running".into(),
                String::new(),
                OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/nginx_2eservice")
                    .unwrap(),
                0,
                String::new(),
                OwnedObjectPath::try_from("/").unwrap(),
            )]
        }

        fn list_unit_files(&self) -> Vec<(String, String)> {
            vec![
                ("/lib/systemd/system/nginx.service".into(), "enabled".into()),
                (
                    "/lib/systemd/system/nftables.service".into(),
                    "disabled".into(),
                ),
            ]
        }
    }

    /// The whole D-Bus path on a real bus, through the collector: a private
    /// `dbus-daemon` (where installed) with a fake `org.freedesktop.systemd1` on it.
    #[test]
    fn query_over_a_real_bus_daemon() {
        let daemon = std::path::Path::new("/usr/bin/dbus-daemon");
        if !daemon.exists() {
            return;
        }
        // A sysroot where systemd runs and the system bus socket is a real bus.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run/systemd/system")).unwrap();
        std::fs::create_dir_all(dir.path().join("run/dbus")).unwrap();
        let socket = dir.path().join("run/dbus/system_bus_socket");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration \
                 1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>custom</type><listen>unix:path={}</listen>\
                 <auth>EXTERNAL</auth><policy context=\"default\"><allow send_destination=\"*\" \
                 eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>\
                 </policy></busconfig>\n",
                socket.display()
            ),
        )
        .unwrap();
        /// Kills the bus daemon however the test ends, so no process outlives it.
        struct KillOnDrop(std::process::Child);
        impl Drop for KillOnDrop {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let child = KillOnDrop(
            std::process::Command::new(daemon)
                .arg(format!("--config-file={}", config.display()))
                .arg("--nofork")
                .arg("--nopidfile")
                .spawn()
                .unwrap(),
        );
        let started = std::time::Instant::now();
        while !socket.exists() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let address = format!("unix:path={}", socket.display());
        let server = zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .name("org.freedesktop.systemd1")
            .unwrap()
            .serve_at("/org/freedesktop/systemd1", FakeManager)
            .unwrap()
            .build()
            .unwrap();
        let answer = query(&socket);
        let collected = {
            use crate::collect::Collector;
            super::super::ServicesCollector.collect(&crate::testutil::ctx_at(dir.path()))
        };
        drop(server);
        drop(child);
        let (units, files) = answer.unwrap();
        let mapped = map_units(units, &files);
        let collected = collected.unwrap();
        assert_eq!(collected.problems, Vec::<String>::new());
        let crate::collect::Section::Services(services) = collected.section else {
            panic!("wrong section")
        };
        assert!(services.available);
        assert_eq!(services.units, mapped);
        assert_eq!(
            mapped,
            vec![
                unit(
                    "nftables.service",
                    "",
                    "not-loaded",
                    "inactive",
                    "dead",
                    Some("disabled")
                ),
                unit(
                    "nginx.service",
                    "A high performance web server and a reverse proxy server",
                    "loaded",
                    "active",
                    "running",
                    Some("enabled")
                ),
            ]
        );
    }
}
