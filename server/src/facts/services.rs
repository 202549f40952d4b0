//! `facts.services` (service units) and `facts.software` (installed packages).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::{Services, Software};
use serde::Serialize;

/// Service units. Every field is absent when the agent sent no services section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceFacts {
    /// The service manager (`systemd`, `windows-scm`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Whether the service manager could be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// Whether run states are known (false when units were read from unit files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states_known: Option<bool>,
    /// Units, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Vec<UnitFact>>,
    /// Names of units enabled to start (`enabled`, `enabled-runtime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Vec<String>>,
    /// Names of active units; absent when run states are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Vec<String>>,
    /// Names of failed units; absent when run states are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Vec<String>>,
}

/// One service unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitFact {
    /// Unit name (e.g. `ssh.service`).
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Load state (`loaded`, `not-found`, `masked`, ...).
    pub load_state: String,
    /// Active state (`active`, `inactive`, `failed`, `unknown`, ...).
    pub state: String,
    /// Sub state (`running`, `exited`, `dead`, ...).
    pub sub_state: String,
    /// Whether the unit is active; absent when the state is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Enablement as the manager says (`enabled`, `disabled`, `static`, `masked`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enablement: Option<String>,
    /// `true` for `enabled`/`enabled-runtime`, `false` for `disabled`/`masked`; absent
    /// for `static`, `indirect` and the like (not started on its own) or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Installed software. Every field is absent when the agent sent no software section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftwareFacts {
    /// Package databases read (`dpkg`, `rpm`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// Number of packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
    /// Packages, sorted by name then version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<PackageFact>>,
    /// Package name → version, for lookups such as `"telnetd" in facts.software.versions`
    /// (a name installed in several versions maps to the last one listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<BTreeMap<String, String>>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageFact {
    /// Name.
    pub name: String,
    /// Version as the package manager writes it.
    pub version: String,
    /// Architecture, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Database it came from.
    pub source: String,
    /// Vendor or publisher, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// When it was installed, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_time: Option<DateTime<Utc>>,
}

fn state_known(state: &str) -> bool {
    !state.is_empty() && state != "unknown"
}

pub(super) fn services(services: Option<&Services>) -> ServiceFacts {
    let Some(s) = services else {
        return ServiceFacts {
            manager: None,
            available: None,
            states_known: None,
            units: None,
            enabled: None,
            running: None,
            failed: None,
        };
    };
    let units: Vec<UnitFact> = s
        .units
        .iter()
        .map(|u| UnitFact {
            name: u.name.clone(),
            description: u.description.clone(),
            load_state: u.load_state.clone(),
            state: u.active_state.clone(),
            sub_state: u.sub_state.clone(),
            active: state_known(&u.active_state).then(|| u.active_state == "active"),
            enablement: u.enabled.clone(),
            enabled: match u.enabled.as_deref() {
                Some("enabled" | "enabled-runtime") => Some(true),
                Some("disabled" | "masked" | "masked-runtime") => Some(false),
                _ => None,
            },
        })
        .collect();
    let states_known = s.available && units.iter().any(|u| u.active.is_some());
    let names = |keep: &dyn Fn(&UnitFact) -> bool| -> Vec<String> {
        units
            .iter()
            .filter(|u| keep(u))
            .map(|u| u.name.clone())
            .collect()
    };
    ServiceFacts {
        manager: Some(s.manager.clone()),
        available: Some(s.available),
        states_known: Some(states_known),
        enabled: Some(names(&|u| u.enabled == Some(true))),
        running: states_known.then(|| names(&|u| u.active == Some(true))),
        failed: states_known.then(|| names(&|u| u.state == "failed")),
        units: Some(units),
    }
}

pub(super) fn software(software: Option<&Software>) -> SoftwareFacts {
    let Some(s) = software else {
        return SoftwareFacts {
            sources: None,
            package_count: None,
            packages: None,
            versions: None,
        };
    };
    SoftwareFacts {
        sources: Some(s.sources.clone()),
        package_count: Some(s.packages.len()),
        versions: Some(
            s.packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect(),
        ),
        packages: Some(
            s.packages
                .iter()
                .map(|p| PackageFact {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    arch: p.arch.clone(),
                    source: p.source.clone(),
                    publisher: p.publisher.clone(),
                    install_time: p.install_time,
                })
                .collect(),
        ),
    }
}
