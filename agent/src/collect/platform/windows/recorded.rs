//! A recorded Windows machine as a [`Source`], and the recorder that writes one.
//!
//! A recording is a directory:
//!
//! | file | what | how to make it on Windows |
//! |---|---|---|
//! | `machine.json` | `recorded_at`, `boot_time` (RFC 3339), `description` | by hand |
//! | `registry.reg` | the keys the collectors read ([`all_reads`]) | `reg export` of those keys, or [`record`] |
//! | `wmi/<Class>.json` | one WMI class | `Get-CimInstance -Namespace NS Class \| Select-Object PROPS \| ConvertTo-Json` |
//! | `services.json` | the SCM's services | `Get-CimInstance Win32_Service \| Select-Object Name,DisplayName,State,StartMode,DelayedAutoStart,StartName,ProcessId,ServiceType,ExitCode \| ConvertTo-Json` |
//! | `sockets.json` | `{"tcp": [...], "tcp6": [...], "udp": [...], "udp6": [...]}`: `MIB_*ROW_OWNER_PID` rows | [`record`] |
//! | `processes.json` | `{"pid": "image name"}` | `Get-Process \| ...`, or [`record`] |
//! | `administrators.json` | the Administrators group | `Get-LocalGroupMember -SID S-1-5-32-544 \| Select-Object Name,SID,ObjectClass,PrincipalSource \| ConvertTo-Json` |
//!
//! Instead of a `.json` file, a `.error` file records that the question failed on that
//! machine: its first line is `unavailable: DETAIL`, `denied` or `failed: DETAIL` (a
//! server has no `wmi/AntiVirusProduct.json` but `wmi/AntiVirusProduct.error` saying
//! `unavailable: invalid namespace (0x8004100E)`). A file that is neither is an answer the
//! machine was never asked: "not recorded".
//!
//! This is the one module of the Windows collectors that does file I/O: it is the edge
//! that replaces the live system in tests and demos.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cim::{self, CimObject};
use super::ports::SocketTables;
use super::registry::{self, RegRead, Registry};
use super::security::admins::{ADMINISTRATORS_SID, GroupMember};
use super::services::ScmService;
use super::source::{RegistryRead, Source, SourceError, WmiQuery};
use super::{disks, hardware, os, security, software};

/// The Windows 10 22H2 Pro laptop (Dell Latitude, no BitLocker, SMBv1 on, two users
/// logged on with per-user installs, a pending reboot).
pub const WIN10_LAPTOP: &str = "win10-22h2-laptop";
/// The Windows 11 23H2 Enterprise desktop (BitLocker, Sophos, Store apps, WSUS).
pub const WIN11_DESKTOP: &str = "win11-23h2-desktop";
/// The Windows Server 2019 VM on VMware, recorded without administrator rights.
pub const SERVER2019_VM: &str = "server2019-vmware";
/// The Windows Server 2012 R2 physical HPE ProLiant on legacy BIOS.
pub const SERVER2012R2: &str = "server2012r2-physical";
/// Every recorded machine.
pub const MACHINES: &[&str] = &[WIN10_LAPTOP, WIN11_DESKTOP, SERVER2019_VM, SERVER2012R2];

/// Every registry key any Windows collector reads.
pub fn all_reads() -> Vec<RegRead> {
    [os::READS, software::READS, &security::reads()].concat()
}

/// Every WMI class any Windows collector reads.
pub fn all_queries() -> Vec<WmiQuery> {
    vec![
        os::QFE,
        hardware::COMPUTER_SYSTEM,
        hardware::BIOS,
        hardware::ENCLOSURE,
        hardware::PRODUCT,
        hardware::TPM,
        disks::PHYSICAL_DISK,
        disks::DISK_DRIVE,
        security::bitlocker::QUERY,
        security::antivirus::SECURITY_CENTER,
        security::antivirus::DEFENDER,
    ]
}

/// The directory of a machine recorded in this repository
/// (`agent/tests/fixtures/windows/<name>`).
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/windows")
        .join(name)
}

/// `machine.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineInfo {
    /// When the recording was made: the recorded source's "now".
    pub recorded_at: DateTime<Utc>,
    /// When the machine booted.
    pub boot_time: DateTime<Utc>,
    /// What the machine is.
    #[serde(default)]
    pub description: String,
}

/// Why a recording could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is malformed.
    #[error("{path}: {message}")]
    Malformed {
        /// The file (with `:LINE` for `.reg` files).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A recorded machine.
#[derive(Debug, Clone)]
pub struct RecordedSource {
    dir: PathBuf,
    machine: MachineInfo,
    registry: Registry,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordingError + '_ {
    move |source| RecordingError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl RecordedSource {
    /// Opens the recording in `dir` (reading `machine.json` and `registry.reg` now).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RecordingError> {
        let dir = dir.into();
        let machine_path = dir.join("machine.json");
        let text = std::fs::read_to_string(&machine_path).map_err(io_err(&machine_path))?;
        let machine: MachineInfo =
            serde_json::from_str(&text).map_err(|e| RecordingError::Malformed {
                path: machine_path.display().to_string(),
                message: e.to_string(),
            })?;
        let reg_path = dir.join("registry.reg");
        let bytes = std::fs::read(&reg_path).map_err(io_err(&reg_path))?;
        let registry = registry::decode_reg_bytes(&bytes)
            .and_then(|text| registry::parse_reg(&text))
            .map_err(|e| RecordingError::Malformed {
                path: format!("{}:{}", reg_path.display(), e.line),
                message: e.message,
            })?;
        Ok(RecordedSource {
            dir,
            machine,
            registry,
        })
    }

    /// Opens a machine recorded in this repository; panics if it is missing or malformed
    /// (for tests).
    pub fn fixture(name: &str) -> Self {
        match RecordedSource::open(fixture_dir(name)) {
            Ok(s) => s,
            Err(err) => panic!("recorded machine {name}: {err}"),
        }
    }

    /// The machine's description.
    pub fn machine(&self) -> &MachineInfo {
        &self.machine
    }

    /// Reads `<stem>.json` as `T`, or the recorded `<stem>.error`.
    fn answer<T: serde::de::DeserializeOwned>(
        &self,
        stem: &str,
        what: &str,
    ) -> Result<T, SourceError> {
        let error_path = self.dir.join(format!("{stem}.error"));
        if let Ok(text) = std::fs::read_to_string(&error_path) {
            return Err(recorded_error(
                what,
                text.lines().next().unwrap_or_default(),
            ));
        }
        let path = self.dir.join(format!("{stem}.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::unavailable(
                    what,
                    format!("not recorded ({} absent)", path.display()),
                ));
            }
            Err(e) => {
                return Err(SourceError::failed(
                    what,
                    format!("{}: {e}", path.display()),
                ));
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        serde_json::from_str(text)
            .map_err(|e| SourceError::failed(what, format!("{}: {e}", path.display())))
    }
}

/// A `.error` file's first line as the error it records.
fn recorded_error(what: &str, line: &str) -> SourceError {
    let line = line.trim();
    if line == "denied" {
        return SourceError::AccessDenied {
            what: what.to_owned(),
        };
    }
    if let Some(detail) = line.strip_prefix("unavailable:") {
        return SourceError::unavailable(what, detail.trim());
    }
    SourceError::failed(what, line.strip_prefix("failed:").unwrap_or(line).trim())
}

fn error_line(err: &SourceError) -> String {
    match err {
        SourceError::Unavailable { detail, .. } => format!("unavailable: {detail}"),
        SourceError::AccessDenied { .. } => "denied".to_owned(),
        SourceError::Failed { detail, .. } => format!("failed: {detail}"),
    }
}

impl Source for RecordedSource {
    fn registry(&self, reads: &[RegRead]) -> Result<RegistryRead, SourceError> {
        Ok(RegistryRead {
            registry: self.registry.subset(reads),
            problems: Vec::new(),
        })
    }

    fn wmi(&self, query: &WmiQuery) -> Result<Vec<CimObject>, SourceError> {
        let value: serde_json::Value =
            self.answer(&format!("wmi/{}", query.class), &query.describe())?;
        cim::instances(value).map_err(|e| SourceError::failed(query.describe(), e))
    }

    fn services(&self) -> Result<Vec<ScmService>, SourceError> {
        let value: serde_json::Value = self.answer("services", "Service Control Manager")?;
        let list = match value {
            serde_json::Value::Array(_) => value,
            other => serde_json::Value::Array(vec![other]),
        };
        serde_json::from_value(list)
            .map_err(|e| SourceError::failed("Service Control Manager", e.to_string()))
    }

    fn sockets(&self) -> Result<SocketTables, SourceError> {
        self.answer("sockets", "GetExtendedTcpTable/GetExtendedUdpTable")
    }

    fn processes(&self) -> Result<BTreeMap<u32, String>, SourceError> {
        self.answer("processes", "process list")
    }

    fn group_members(&self, sid: &str) -> Result<Vec<GroupMember>, SourceError> {
        let what = format!("NetLocalGroupGetMembers {sid}");
        if sid != ADMINISTRATORS_SID {
            return Err(SourceError::unavailable(
                what,
                "only the Administrators group is recorded",
            ));
        }
        let value: serde_json::Value = self.answer("administrators", &what)?;
        let list = match value {
            serde_json::Value::Array(_) => value,
            other => serde_json::Value::Array(vec![other]),
        };
        serde_json::from_value(list).map_err(|e| SourceError::failed(what, e.to_string()))
    }

    fn boot_time(&self) -> Result<DateTime<Utc>, SourceError> {
        Ok(self.machine.boot_time)
    }

    fn now(&self) -> DateTime<Utc> {
        self.machine.recorded_at
    }
}

/// Records what `source` answers to every question the collectors ask into `dir` (created
/// if needed), in the layout above. Run against the live source on a Windows machine it
/// makes a new fixture; the files hold that machine's names, serials and SIDs.
pub fn record(source: &dyn Source, dir: &Path, description: &str) -> Result<(), RecordingError> {
    let write = |name: &str, text: String| -> Result<(), RecordingError> {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, text).map_err(io_err(&path))
    };
    let answer = |stem: &str, result: Result<String, SourceError>| match result {
        Ok(text) => write(&format!("{stem}.json"), text),
        Err(err) => write(&format!("{stem}.error"), format!("{}\n", error_line(&err))),
    };

    let machine = MachineInfo {
        recorded_at: source.now(),
        boot_time: source.boot_time().unwrap_or_else(|_| source.now()),
        description: description.to_owned(),
    };
    write("machine.json", pretty(&machine))?;
    let read = source
        .registry(&all_reads())
        .map_err(|e| RecordingError::Malformed {
            path: "registry".to_owned(),
            message: e.to_string(),
        })?;
    write("registry.reg", read.registry.to_reg())?;
    for query in all_queries() {
        let result = source.wmi(&query).map(|list| {
            let value =
                serde_json::Value::Array(list.into_iter().map(serde_json::Value::Object).collect());
            pretty(&value)
        });
        answer(&format!("wmi/{}", query.class), result)?;
    }
    answer("services", source.services().map(|s| pretty(&s)))?;
    answer("sockets", source.sockets().map(|s| pretty(&s)))?;
    answer("processes", source.processes().map(|p| pretty(&p)))?;
    answer(
        "administrators",
        source.group_members(ADMINISTRATORS_SID).map(|m| pretty(&m)),
    )?;
    Ok(())
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("\"{e}\"")) + "\n"
}

/// A recording with some answers changed, for tests.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct Overridden {
    /// The recording the other answers come from.
    pub base: std::sync::Arc<RecordedSource>,
    /// Replaces the registry when set.
    pub registry: Option<Registry>,
    /// WMI classes that fail with this error.
    pub failing_wmi: BTreeMap<&'static str, SourceError>,
}

#[cfg(test)]
impl Source for Overridden {
    fn registry(&self, reads: &[RegRead]) -> Result<RegistryRead, SourceError> {
        match &self.registry {
            Some(r) => Ok(RegistryRead {
                registry: r.subset(reads),
                problems: Vec::new(),
            }),
            None => self.base.registry(reads),
        }
    }
    fn wmi(&self, query: &WmiQuery) -> Result<Vec<CimObject>, SourceError> {
        match self.failing_wmi.get(query.class) {
            Some(err) => Err(err.clone()),
            None => self.base.wmi(query),
        }
    }
    fn services(&self) -> Result<Vec<ScmService>, SourceError> {
        self.base.services()
    }
    fn sockets(&self) -> Result<SocketTables, SourceError> {
        self.base.sockets()
    }
    fn processes(&self) -> Result<BTreeMap<u32, String>, SourceError> {
        self.base.processes()
    }
    fn group_members(&self, sid: &str) -> Result<Vec<GroupMember>, SourceError> {
        self.base.group_members(sid)
    }
    fn boot_time(&self) -> Result<DateTime<Utc>, SourceError> {
        self.base.boot_time()
    }
    fn now(&self) -> DateTime<Utc> {
        self.base.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_machine_opens() {
        for m in MACHINES {
            let src = RecordedSource::fixture(m);
            assert!(src.registry.len() > 20, "{m}: {} keys", src.registry.len());
            assert!(src.machine.boot_time < src.machine.recorded_at, "{m}");
        }
    }

    #[test]
    fn recording_a_recording_gives_the_same_answers() {
        let src = RecordedSource::fixture(WIN10_LAPTOP);
        let dir = tempfile::tempdir().unwrap();
        record(&src, dir.path(), "copy").unwrap();
        let copy = RecordedSource::open(dir.path()).unwrap();
        assert_eq!(
            copy.registry(&all_reads()).unwrap(),
            src.registry(&all_reads()).unwrap()
        );
        for q in all_queries() {
            assert_eq!(copy.wmi(&q), src.wmi(&q), "{}", q.class);
        }
        assert_eq!(copy.services(), src.services());
        assert_eq!(copy.sockets(), src.sockets());
        assert_eq!(copy.processes(), src.processes());
        assert_eq!(
            copy.group_members(ADMINISTRATORS_SID),
            src.group_members(ADMINISTRATORS_SID)
        );
        assert_eq!(copy.now(), src.now());
    }

    #[test]
    fn recorded_errors_come_back_as_errors() {
        let src = RecordedSource::fixture(SERVER2019_VM);
        assert!(matches!(
            src.wmi(&security::antivirus::SECURITY_CENTER),
            Err(SourceError::Unavailable { .. })
        ));
        assert!(matches!(
            src.wmi(&hardware::TPM),
            Err(SourceError::AccessDenied { .. })
        ));
        let missing = WmiQuery {
            namespace: "ROOT\\CIMV2",
            class: "Win32_NotRecorded",
            properties: &[],
            privacy: false,
        };
        let err = src.wmi(&missing).unwrap_err().to_string();
        assert!(err.contains("not recorded"), "{err}");
    }

    #[test]
    fn a_malformed_registry_file_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("machine.json"),
            r#"{"recorded_at":"2024-01-01T00:00:00Z","boot_time":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("registry.reg"),
            "Windows Registry Editor Version 5.00\n\n[HKLM\\X]\n\"a\"=bogus\n",
        )
        .unwrap();
        let err = RecordedSource::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("registry.reg:4"), "{err}");
    }
}
