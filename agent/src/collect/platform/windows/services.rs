//! The Windows services collector: the Service Control Manager's Win32 services.
//!
//! The live reader enumerates them with `EnumServicesStatusExW` and asks each for its
//! configuration (`QueryServiceConfigW`, `QueryServiceConfig2W` for delayed start), no
//! administrator rights needed. A record ([`ScmService`]) carries the SCM's numeric codes
//! or, in a recording made with `Get-CimInstance Win32_Service | Select-Object Name,
//! DisplayName, State, StartMode, DelayedAutoStart, StartName, ProcessId, ServiceType,
//! ExitCode | ConvertTo-Json`, `Win32_Service`'s words; both read the same.
//!
//! Mapped to the protocol's units as the simulator and the facts expect: start type
//! Automatic (delayed or not), Boot and System as `enabled`, Manual as `manual`, Disabled
//! as `disabled`; Running as `active`/`running`, Stopped as `inactive`/`stopped`, the
//! pending states as `activating`/`deactivating`, Paused as `active`/`paused`. A service
//! set to start automatically that stopped with an exit code other than 0 or 1077 ("never
//! started") is `failed`: what the SCM shows as a failed service.
//!
//! Per-user service instances (`CDPUserSvc_4f1a2`: the template's name, `_` and a per-logon
//! suffix) are left out: they change name at every logon and would churn the inventory;
//! their template is listed.

use std::collections::BTreeSet;
use std::sync::Arc;

use estate_protocol::{ServiceUnit, Services};
use serde::{Deserialize, Serialize};

use super::source::Source;
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// A numeric SCM code or the word `Win32_Service` uses for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Code {
    /// The SCM's number (`SERVICE_RUNNING` = 4, `SERVICE_AUTO_START` = 2, ...).
    Number(u32),
    /// `Win32_Service`'s word (`Running`, `Auto`, ...).
    Word(String),
}

/// One service as the SCM (or `Win32_Service`) describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScmService {
    /// Service name (`wuauserv`).
    pub name: String,
    /// Display name (`Windows Update`).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Current state: `dwCurrentState`, or `Running`/`Stopped`/...
    pub state: Code,
    /// Start type: `dwStartType`, or `Auto`/`Manual`/`Disabled`/`Boot`/`System`.
    pub start_mode: Code,
    /// Automatic (delayed start).
    #[serde(default)]
    pub delayed_auto_start: Option<bool>,
    /// The account it runs as (`LocalSystem`, `NT AUTHORITY\LocalService`, a user).
    #[serde(default)]
    pub start_name: Option<String>,
    /// Process id while running (0 otherwise).
    #[serde(default)]
    pub process_id: Option<u32>,
    /// `dwServiceType` (0x10 own process, 0x20 shared, 0x50/0x60 user service templates,
    /// +0x80 for a per-user instance), or `Win32_Service`'s words.
    #[serde(default)]
    pub service_type: Option<Code>,
    /// `dwWin32ExitCode` of the last stop.
    #[serde(default)]
    pub exit_code: Option<u32>,
}

/// The run state of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `SERVICE_STOPPED` (1).
    Stopped,
    /// `SERVICE_START_PENDING` (2) or `SERVICE_CONTINUE_PENDING` (5).
    Starting,
    /// `SERVICE_STOP_PENDING` (3).
    Stopping,
    /// `SERVICE_RUNNING` (4).
    Running,
    /// `SERVICE_PAUSE_PENDING` (6) or `SERVICE_PAUSED` (7).
    Paused,
    /// Anything else.
    Unknown,
}

/// The start type of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartType {
    /// `SERVICE_BOOT_START` (0).
    Boot,
    /// `SERVICE_SYSTEM_START` (1).
    System,
    /// `SERVICE_AUTO_START` (2).
    Auto,
    /// `SERVICE_DEMAND_START` (3).
    Manual,
    /// `SERVICE_DISABLED` (4).
    Disabled,
    /// Anything else.
    Unknown,
}

impl ScmService {
    /// The run state.
    pub fn state(&self) -> State {
        match &self.state {
            Code::Number(1) => State::Stopped,
            Code::Number(2 | 5) => State::Starting,
            Code::Number(3) => State::Stopping,
            Code::Number(4) => State::Running,
            Code::Number(6 | 7) => State::Paused,
            Code::Number(_) => State::Unknown,
            Code::Word(w) => match w.to_ascii_lowercase().as_str() {
                "stopped" => State::Stopped,
                "start pending" | "continue pending" => State::Starting,
                "stop pending" => State::Stopping,
                "running" => State::Running,
                "paused" | "pause pending" => State::Paused,
                _ => State::Unknown,
            },
        }
    }

    /// The start type.
    pub fn start_type(&self) -> StartType {
        match &self.start_mode {
            Code::Number(0) => StartType::Boot,
            Code::Number(1) => StartType::System,
            Code::Number(2) => StartType::Auto,
            Code::Number(3) => StartType::Manual,
            Code::Number(4) => StartType::Disabled,
            Code::Number(_) => StartType::Unknown,
            Code::Word(w) => match w.to_ascii_lowercase().as_str() {
                "boot" => StartType::Boot,
                "system" => StartType::System,
                "auto" | "automatic" => StartType::Auto,
                "manual" => StartType::Manual,
                "disabled" => StartType::Disabled,
                _ => StartType::Unknown,
            },
        }
    }

    /// Whether the record says it is a per-user service instance (type bit 0x80).
    fn is_user_instance_by_type(&self) -> bool {
        matches!(self.service_type, Some(Code::Number(t)) if t & 0x80 != 0)
    }
}

/// Collects the [`Services`] section from a [`Source`].
#[derive(Debug, Clone)]
pub struct ServicesCollector {
    source: Arc<dyn Source>,
}

impl ServicesCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        ServicesCollector { source }
    }
}

impl Collector for ServicesCollector {
    fn name(&self) -> &'static str {
        "services"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        match self.source.services() {
            Ok(records) => Ok(Collected::partial(
                Section::Services(map(&records)),
                vec![
                    "collected but not sent, Report v1 has no field for them: the account \
                     each service runs as and delayed automatic start"
                        .to_owned(),
                ],
            )),
            Err(err) => Err(CollectError::Other(err.to_string())),
        }
    }
}

/// Maps SCM records to the services section, units sorted by name.
pub fn map(records: &[ScmService]) -> Services {
    let names: BTreeSet<String> = records.iter().map(|r| r.name.to_lowercase()).collect();
    let mut units: Vec<ServiceUnit> = records
        .iter()
        .filter(|r| !r.is_user_instance_by_type() && !is_user_instance_by_name(&r.name, &names))
        .map(unit)
        .collect();
    units.sort_by_key(|a| a.name.to_lowercase());
    units.dedup_by(|a, b| a.name.eq_ignore_ascii_case(&b.name));
    Services {
        manager: "windows-scm".to_owned(),
        available: true,
        reason: None,
        units,
    }
}

/// `Template_1a2b3c` when `Template` is also a service: a per-user instance.
fn is_user_instance_by_name(name: &str, names: &BTreeSet<String>) -> bool {
    let Some((template, suffix)) = name.rsplit_once('_') else {
        return false;
    };
    (4..=8).contains(&suffix.len())
        && suffix.chars().all(|c| c.is_ascii_hexdigit())
        && names.contains(&template.to_lowercase())
}

fn unit(r: &ScmService) -> ServiceUnit {
    let state = r.state();
    let start = r.start_type();
    let failed = state == State::Stopped
        && start == StartType::Auto
        && r.exit_code.is_some_and(|c| c != 0 && c != 1077);
    let (active, sub) = match state {
        State::Stopped if failed => ("failed", "stopped"),
        State::Stopped => ("inactive", "stopped"),
        State::Starting => ("activating", "start_pending"),
        State::Stopping => ("deactivating", "stop_pending"),
        State::Running => ("active", "running"),
        State::Paused => ("active", "paused"),
        State::Unknown => ("unknown", "unknown"),
    };
    let enabled = match start {
        StartType::Auto | StartType::Boot | StartType::System => Some("enabled"),
        StartType::Manual => Some("manual"),
        StartType::Disabled => Some("disabled"),
        StartType::Unknown => None,
    };
    ServiceUnit {
        name: r.name.clone(),
        description: r.display_name.clone().unwrap_or_default(),
        load_state: "loaded".to_owned(),
        active_state: active.to_owned(),
        sub_state: sub.to_owned(),
        enabled: enabled.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};

    fn unit_of<'a>(s: &'a Services, name: &str) -> &'a ServiceUnit {
        s.units.iter().find(|u| u.name == name).unwrap()
    }

    #[test]
    fn win32_service_words_map_to_units() {
        let records = RecordedSource::fixture(recorded::WIN10_LAPTOP)
            .services()
            .unwrap();
        let s = map(&records);
        assert_eq!(s.manager, "windows-scm");
        let wu = unit_of(&s, "wuauserv");
        assert_eq!(wu.description, "Windows Update");
        assert_eq!(
            (
                wu.active_state.as_str(),
                wu.sub_state.as_str(),
                wu.enabled.as_deref()
            ),
            ("active", "running", Some("manual"))
        );
        let spooler = unit_of(&s, "Spooler");
        assert_eq!(spooler.enabled.as_deref(), Some("enabled"));
        let remote = unit_of(&s, "RemoteRegistry");
        assert_eq!(
            (remote.active_state.as_str(), remote.enabled.as_deref()),
            ("inactive", Some("disabled"))
        );
        // Automatic, stopped with exit code 1067: failed.
        assert_eq!(unit_of(&s, "gupdate").active_state, "failed");
        // Automatic, stopped with 1077 (never started): just inactive.
        assert_eq!(unit_of(&s, "sppsvc").active_state, "inactive");
        // The per-user instance is dropped, its template kept.
        assert!(s.units.iter().any(|u| u.name == "CDPUserSvc"));
        assert!(!s.units.iter().any(|u| u.name.starts_with("CDPUserSvc_")));
        let sorted: Vec<String> = s.units.iter().map(|u| u.name.to_lowercase()).collect();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn scm_numbers_map_like_the_words() {
        let json = r#"[
          {"Name":"WinDefend","DisplayName":"Microsoft Defender Antivirus Service","State":4,
           "StartMode":2,"DelayedAutoStart":false,"StartName":"LocalSystem","ProcessId":3120,
           "ServiceType":16,"ExitCode":0},
          {"Name":"MapsBroker","DisplayName":"Downloaded Maps Manager","State":1,"StartMode":2,
           "DelayedAutoStart":true,"StartName":"NT AUTHORITY\\NetworkService","ProcessId":0,
           "ServiceType":32,"ExitCode":0},
          {"Name":"OneSyncSvc","DisplayName":"Sync Host","State":4,"StartMode":2,
           "ServiceType":96,"ExitCode":0},
          {"Name":"OneSyncSvc_8a1f3","DisplayName":"Sync Host_8a1f3","State":4,"StartMode":2,
           "ServiceType":224,"ExitCode":0},
          {"Name":"Netlogon","DisplayName":"Netlogon","State":7,"StartMode":3,"ExitCode":0},
          {"Name":"Odd","State":9,"StartMode":8}
        ]"#;
        let records: Vec<ScmService> = serde_json::from_str(json).unwrap();
        let s = map(&records);
        let names: Vec<&str> = s.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["MapsBroker", "Netlogon", "Odd", "OneSyncSvc", "WinDefend"]
        );
        assert_eq!(unit_of(&s, "WinDefend").active_state, "active");
        assert_eq!(unit_of(&s, "MapsBroker").active_state, "inactive");
        assert_eq!(unit_of(&s, "Netlogon").sub_state, "paused");
        assert_eq!(unit_of(&s, "Odd").active_state, "unknown");
        assert_eq!(unit_of(&s, "Odd").enabled, None);
    }

    #[test]
    fn a_name_with_an_underscore_is_an_instance_only_beside_its_template() {
        let names: BTreeSet<String> = ["cdpusersvc".to_owned(), "my_service".to_owned()].into();
        assert!(is_user_instance_by_name("CDPUserSvc_4f1a2", &names));
        assert!(!is_user_instance_by_name("my_service", &names));
        assert!(!is_user_instance_by_name("Other_4f1a2", &names));
        assert!(!is_user_instance_by_name("CDPUserSvc_notahex", &names));
    }
}
