//! Services: systemd units and their states.
//!
//! Where systemd runs (`/run/systemd/system` exists) its D-Bus API is asked over the
//! system bus socket under the root ([`systemd_dbus`]). When the bus cannot be
//! reached, the unit files are read instead ([`unit_files`]): enablement is then known
//! but load, active and sub states are `unknown`, and the section is partial. Where
//! systemd does not run (containers, other inits) the section says so, with the
//! reason. This module owns that decision; it must not start or change any unit.

pub mod systemd_dbus;
pub mod unit_files;

use estate_protocol::{ServiceUnit, Services};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

/// The service manager this collector reports on.
pub const MANAGER: &str = "systemd";
/// Host path whose existence means systemd is the running init (`sd_booted()`).
pub const SYSTEMD_RUNNING: &str = "/run/systemd/system";
/// Host path of the D-Bus system bus socket.
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";
/// State written where a unit file says nothing about it (fallback mode).
pub const UNKNOWN_STATE: &str = "unknown";

/// Collects systemd units.
#[derive(Debug)]
pub struct ServicesCollector;

impl Collector for ServicesCollector {
    fn name(&self) -> &'static str {
        "services"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let root = &ctx.root;
        if !root.exists(SYSTEMD_RUNNING) {
            return Ok(Collected::complete(Section::Services(not_running(root))));
        }
        let bus_error = if root.exists(SYSTEM_BUS_SOCKET) {
            match systemd_dbus::query(&root.path(SYSTEM_BUS_SOCKET)) {
                Ok((units, files)) => {
                    return Ok(Collected::complete(Section::Services(Services {
                        manager: MANAGER.to_owned(),
                        available: true,
                        reason: None,
                        units: systemd_dbus::map_units(units, &files),
                    })));
                }
                Err(err) => format!("{SYSTEM_BUS_SOCKET}: {err}"),
            }
        } else {
            format!("{SYSTEM_BUS_SOCKET}: no such socket")
        };
        let files = unit_files::scan(root);
        if !files.found_any_dir {
            return Err(CollectError::Other(format!(
                "systemd is running but its D-Bus API could not be reached ({bus_error}) \
                 and no unit directory exists ({})",
                unit_files::UNIT_DIRS.join(", ")
            )));
        }
        let mut problems = vec![format!(
            "systemd is running but its D-Bus API could not be reached ({bus_error}); \
             units listed from unit files, their load/active/sub states unknown"
        )];
        problems.extend(files.problems);
        let units = files
            .units
            .into_iter()
            .map(|(name, file)| ServiceUnit {
                name,
                description: file.description.unwrap_or_default(),
                load_state: if file.state == "masked" {
                    "masked".to_owned()
                } else {
                    UNKNOWN_STATE.to_owned()
                },
                active_state: UNKNOWN_STATE.to_owned(),
                sub_state: UNKNOWN_STATE.to_owned(),
                enabled: Some(file.state),
            })
            .collect();
        Ok(Collected::partial(
            Section::Services(Services {
                manager: MANAGER.to_owned(),
                available: true,
                reason: None,
                units,
            }),
            problems,
        ))
    }
}

/// The section for a host where systemd is not the running init.
fn not_running(root: &SysRoot) -> Services {
    let init = match root.read_attr("/proc/1/comm") {
        Ok(Some(comm)) => format!("; PID 1 is `{comm}`"),
        _ => String::new(),
    };
    Services {
        manager: MANAGER.to_owned(),
        available: false,
        reason: Some(format!(
            "systemd is not running (no {SYSTEMD_RUNNING}{init}): a container or a \
             non-systemd init"
        )),
        units: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL};

    fn services(ctx: &Context) -> (Services, Vec<String>) {
        let c = ServicesCollector.collect(ctx).unwrap();
        let Section::Services(s) = c.section else {
            panic!("wrong section")
        };
        (s, c.problems)
    }

    #[test]
    fn live_host_without_systemd_says_so() {
        let root = SysRoot::default();
        if root.exists(SYSTEMD_RUNNING) {
            return;
        }
        let (s, problems) = services(&testutil::ctx_at(std::path::Path::new("/")));
        assert!(problems.is_empty());
        assert!(!s.available);
        assert!(s.units.is_empty());
        let reason = s.reason.unwrap();
        assert!(
            reason.starts_with("systemd is not running (no /run/systemd/system"),
            "{reason}"
        );
    }

    #[test]
    fn without_run_systemd_system_the_section_is_unavailable_with_the_reason() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), SYSTEMD_RUNNING);
        testutil::write(dir.path(), "/proc/1/comm", b"bash\n");
        let (s, problems) = services(&testutil::ctx_at(dir.path()));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            s,
            Services {
                manager: "systemd".to_owned(),
                available: false,
                reason: Some(
                    "systemd is not running (no /run/systemd/system; PID 1 is `bash`): \
                     a container or a non-systemd init"
                        .to_owned()
                ),
                units: Vec::new(),
            }
        );
    }

    fn summary(s: &Services) -> Vec<(String, String, String)> {
        s.units
            .iter()
            .map(|u| {
                (
                    u.name.clone(),
                    u.load_state.clone(),
                    u.enabled.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn triple(name: &str, load: &str, enabled: &str) -> (String, String, String) {
        (name.to_owned(), load.to_owned(), enabled.to_owned())
    }

    #[test]
    fn debian_without_a_bus_falls_back_to_unit_files() {
        let (s, problems) = services(&testutil::ctx(DEBIAN_VM));
        assert_eq!(
            problems,
            vec![
                "systemd is running but its D-Bus API could not be reached \
                 (/run/dbus/system_bus_socket: no such socket); units listed from unit \
                 files, their load/active/sub states unknown"
                    .to_owned()
            ]
        );
        assert!(s.available);
        assert_eq!(
            summary(&s),
            vec![
                triple("apache2.service", "masked", "masked"),
                triple("apt-daily-upgrade.service", "unknown", "static"),
                triple("apt-daily-upgrade.timer", "unknown", "enabled"),
                triple("apt-daily.service", "unknown", "static"),
                triple("apt-daily.timer", "unknown", "enabled"),
                triple("cron.service", "unknown", "enabled"),
                triple("getty@.service", "unknown", "enabled"),
                triple("nftables.service", "unknown", "disabled"),
                triple("nginx.service", "unknown", "enabled"),
                triple("qemu-guest-agent.service", "unknown", "static"),
                triple("ssh.service", "unknown", "enabled"),
                triple("ssh.socket", "unknown", "disabled"),
                triple("ssh@.service", "unknown", "static"),
                triple("systemd-timesyncd.service", "unknown", "enabled"),
                triple("ufw.service", "unknown", "enabled"),
                triple("unattended-upgrades.service", "unknown", "enabled"),
            ]
        );
        let nginx = s.units.iter().find(|u| u.name == "nginx.service").unwrap();
        assert_eq!(
            nginx.description,
            "A high performance web server and a reverse proxy server"
        );
        assert_eq!(nginx.active_state, "unknown");
        assert_eq!(nginx.sub_state, "unknown");
    }

    #[test]
    fn dell_without_a_bus_falls_back_to_unit_files() {
        let (s, problems) = services(&testutil::ctx(DELL));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            summary(&s),
            vec![
                triple("chronyd.service", "unknown", "enabled"),
                triple("dnf-automatic-install.timer", "unknown", "disabled"),
                triple("dnf-automatic.service", "unknown", "static"),
                triple("dnf-automatic.timer", "unknown", "enabled"),
                triple("falcon-sensor.service", "unknown", "enabled"),
                triple("firewalld.service", "unknown", "enabled"),
                triple("nftables.service", "unknown", "disabled"),
                triple("postgresql.service", "unknown", "enabled"),
                triple("sshd.service", "unknown", "enabled"),
            ]
        );
    }

    #[test]
    fn unreadable_unit_files_are_named_and_the_rest_still_listed() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        // A directory where a unit file should be: it cannot be read as a file.
        std::fs::create_dir_all(dir.path().join("lib/systemd/system/broken.service")).unwrap();
        let (s, problems) = services(&testutil::ctx_at(dir.path()));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[1].starts_with("/lib/systemd/system/broken.service: "),
            "{problems:?}"
        );
        assert!(s.units.iter().any(|u| u.name == "nginx.service"));
        assert!(!s.units.iter().any(|u| u.name == "broken.service"));
    }

    #[test]
    fn no_unit_directory_at_all_is_an_error() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), "/lib/systemd");
        testutil::remove(dir.path(), "/etc/systemd");
        testutil::remove(dir.path(), "/run/systemd/system");
        std::fs::create_dir_all(dir.path().join("run/systemd/system")).unwrap();
        let err = ServicesCollector
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        assert!(
            err.to_string().contains("no unit directory exists"),
            "{err}"
        );
    }
}
