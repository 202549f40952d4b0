//! Where the Windows collectors get their data: the [`Source`] trait.
//!
//! A source answers the few kinds of question the collectors ask Windows — registry
//! keys, WMI classes, the Service Control Manager, the TCP/UDP tables, the process list,
//! a local group's members, the boot time — and nothing else. The live source
//! (`live::LiveSource`, Windows only) asks the running system; [`super::recorded`]
//! answers from a recorded machine, so every collector runs unchanged on recorded
//! fixtures on any platform. A source only reads and hands data over: all
//! interpretation happens in the collectors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::cim::CimObject;
use super::ports::SocketTables;
use super::registry::{RegRead, Registry};
use super::security::admins::GroupMember;
use super::services::ScmService;

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The facility does not exist here (a WMI namespace a server or Wine lacks, an API
    /// that is not implemented).
    #[error("{what}: not available on this system ({detail})")]
    Unavailable {
        /// What was asked (e.g. `WMI ROOT\SecurityCenter2 AntiVirusProduct`).
        what: String,
        /// What the system said.
        detail: String,
    },
    /// The agent's account may not read it.
    #[error("{what}: access denied (needs administrator rights)")]
    AccessDenied {
        /// What was asked.
        what: String,
    },
    /// Anything else.
    #[error("{what}: {detail}")]
    Failed {
        /// What was asked.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

impl SourceError {
    /// A failure of `what`.
    pub fn failed(what: impl Into<String>, detail: impl Into<String>) -> Self {
        SourceError::Failed {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// `what` does not exist here.
    pub fn unavailable(what: impl Into<String>, detail: impl Into<String>) -> Self {
        SourceError::Unavailable {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// A registry read: the keys found, and the parts that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryRead {
    /// The keys that exist, with their values.
    pub registry: Registry,
    /// Keys that exist but could not be read, each naming the key and why.
    pub problems: Vec<String>,
}

/// One WMI class query: `SELECT * FROM class` in `namespace`, keeping `properties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WmiQuery {
    /// Namespace, e.g. `ROOT\CIMV2`.
    pub namespace: &'static str,
    /// Class, e.g. `Win32_BIOS`.
    pub class: &'static str,
    /// The properties the collector reads (and a recording keeps).
    pub properties: &'static [&'static str],
    /// Whether the namespace wants packet privacy (BitLocker's does).
    pub privacy: bool,
}

impl WmiQuery {
    /// How errors and recordings name it: `WMI ROOT\CIMV2 Win32_BIOS`.
    pub fn describe(&self) -> String {
        format!("WMI {} {}", self.namespace, self.class)
    }
}

/// What the Windows collectors ask of Windows.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The registry keys `reads` select, 64-bit view (`WOW6432Node` paths read as
    /// written), `HKEY_USERS\*` expanded to the loaded user hives. A key that does not
    /// exist is simply absent.
    fn registry(&self, reads: &[RegRead]) -> Result<RegistryRead, SourceError>;

    /// The instances of a WMI class.
    fn wmi(&self, query: &WmiQuery) -> Result<Vec<CimObject>, SourceError>;

    /// The Win32 services the Service Control Manager knows.
    fn services(&self) -> Result<Vec<ScmService>, SourceError>;

    /// The TCP and UDP endpoint tables with owning process ids.
    fn sockets(&self) -> Result<SocketTables, SourceError>;

    /// Process id -> image name (`svchost.exe`).
    fn processes(&self) -> Result<BTreeMap<u32, String>, SourceError>;

    /// The members of the local group with this well-known SID (`S-1-5-32-544`).
    fn group_members(&self, sid: &str) -> Result<Vec<GroupMember>, SourceError>;

    /// When the system booted.
    fn boot_time(&self) -> Result<DateTime<Utc>, SourceError>;

    /// The time of collection (recorded sources give the time of recording).
    fn now(&self) -> DateTime<Utc>;
}
