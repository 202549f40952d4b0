//! Host firewall: ufw, firewalld, nftables.service and legacy iptables tables.
//!
//! Active means one of: ufw `ENABLED=yes` in `/etc/ufw/ufw.conf`; firewalld enabled or
//! running; `nftables.service` enabled with a ruleset file that defines a table or
//! includes one; iptables/ip6tables tables loaded (`/proc/net/ip_tables_names`). Rules
//! loaded into nftables by other means are invisible without netlink, and the evidence
//! says so when nothing else is found. This module owns those rules.

use std::collections::BTreeSet;

use estate_protocol::{Firewall, Known};

use crate::collect::platform::linux::services::unit_files::UnitFiles;
use crate::root::SysRoot;

/// ufw's configuration file.
pub const UFW_CONF: &str = "/etc/ufw/ufw.conf";
/// firewalld's configuration file.
pub const FIREWALLD_CONF: &str = "/etc/firewalld/firewalld.conf";
/// Ruleset files `nftables.service` loads (RHEL family, then Debian family).
pub const NFTABLES_RULESETS: &[&str] = &["/etc/sysconfig/nftables.conf", "/etc/nftables.conf"];
/// Loaded legacy iptables tables, IPv4 then IPv6.
pub const IPTABLES_NAMES: &[&str] = &["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"];

/// `KEY=value` from a shell-style config file (quotes removed), last one wins.
pub fn shell_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (k, v) = line.split_once('=')?;
            (!line.starts_with('#') && k.trim() == key)
                .then(|| v.trim().trim_matches(['"', '\'']).to_owned())
        })
        .next_back()
}

/// Number of `table` definitions and `include` lines of an nft ruleset file.
fn nft_statements(text: &str) -> usize {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("table ") || l.starts_with("include "))
        .count()
}

/// The firewall state. `processes` are the `comm` names of running processes.
pub fn firewall(
    root: &SysRoot,
    units: &UnitFiles,
    processes: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Known<Firewall> {
    let mut evidence = Vec::new();
    let mut active = false;

    match root.read_optional(UFW_CONF) {
        Ok(Some(text)) => match shell_value(&text, "ENABLED") {
            Some(v) if v.eq_ignore_ascii_case("yes") => {
                active = true;
                evidence.push(format!("ufw enabled ({UFW_CONF}: ENABLED=yes)"));
            }
            Some(v) => evidence.push(format!(
                "ufw installed but disabled ({UFW_CONF}: ENABLED={v})"
            )),
            None => evidence.push(format!("ufw installed, ENABLED not set in {UFW_CONF}")),
        },
        Ok(None) => {}
        Err(err) => problems.push(err.to_string()),
    }

    let firewalld_enabled = units.is_enabled("firewalld.service");
    let firewalld_running = processes.contains("firewalld");
    if firewalld_enabled || firewalld_running {
        active = true;
        let how = match (firewalld_enabled, firewalld_running) {
            (true, true) => "enabled (firewalld.service) and running",
            (true, false) => "enabled (firewalld.service), not running",
            _ => "running, firewalld.service not enabled",
        };
        let backend = match root.read_optional(FIREWALLD_CONF) {
            Ok(Some(text)) => shell_value(&text, "FirewallBackend")
                .map(|b| format!(", backend {b} ({FIREWALLD_CONF})"))
                .unwrap_or_default(),
            Ok(None) => String::new(),
            Err(err) => {
                problems.push(err.to_string());
                String::new()
            }
        };
        evidence.push(format!("firewalld {how}{backend}"));
    } else if let Some(state) = units.state("firewalld.service") {
        evidence.push(format!("firewalld installed but {state}"));
    }

    if units.is_enabled("nftables.service") {
        let mut found = None;
        for path in NFTABLES_RULESETS {
            match root.read_optional(path) {
                Ok(Some(text)) => {
                    found = Some((*path, nft_statements(&text)));
                    break;
                }
                Ok(None) => {}
                Err(err) => problems.push(err.to_string()),
            }
        }
        match found {
            Some((path, n)) if n > 0 => {
                active = true;
                evidence.push(format!(
                    "nftables.service enabled, ruleset {path} ({n} table/include statements)"
                ));
            }
            Some((path, _)) => evidence.push(format!(
                "nftables.service enabled but {path} defines no table"
            )),
            None => evidence.push(format!(
                "nftables.service enabled but no ruleset file ({})",
                NFTABLES_RULESETS.join(", ")
            )),
        }
    }

    for (path, name) in IPTABLES_NAMES.iter().zip(["iptables", "ip6tables"]) {
        match root.read_optional(path) {
            Ok(Some(text)) => {
                let tables: Vec<&str> = text.split_whitespace().collect();
                if !tables.is_empty() {
                    active = true;
                    evidence.push(format!(
                        "{name} tables loaded: {} ({path})",
                        tables.join(", ")
                    ));
                }
            }
            Ok(None) => {}
            Err(err) => problems.push(err.to_string()),
        }
    }

    if !active {
        evidence.push(
            "no firewall enabled: ufw, firewalld and nftables.service are off or absent and no \
             iptables table is loaded (nftables rules loaded by other means are not visible)"
                .to_owned(),
        );
    }
    Known::Known {
        value: Firewall { active, evidence },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_values_and_nft_statements() {
        let text = "# ENABLED=no\nENABLED=\"yes\"\nLOGLEVEL=low\n";
        assert_eq!(shell_value(text, "ENABLED").as_deref(), Some("yes"));
        assert_eq!(shell_value(text, "MISSING"), None);
        assert_eq!(
            nft_statements("#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n}\n"),
            1
        );
        assert_eq!(nft_statements("# include \"/etc/nftables/main.nft\"\n"), 0);
    }
}
