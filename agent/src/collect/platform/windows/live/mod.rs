//! The live [`Source`]: asks the running Windows system. Each answer comes from one API
//! (see the submodules); nothing here interprets what it reads. Unsafe code is confined
//! to these modules, each call with its safety argument.

mod iphlp;
mod netapi;
mod registry;
mod scm;
mod wmi;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::cim::CimObject;
use super::ports::SocketTables;
use super::registry::RegRead;
use super::security::admins::GroupMember;
use super::services::ScmService;
use super::source::{RegistryRead, Source, SourceError, WmiQuery};

/// The running system.
#[derive(Debug, Default)]
pub struct LiveSource;

impl LiveSource {
    /// The live source.
    pub fn new() -> Self {
        LiveSource
    }
}

impl Source for LiveSource {
    fn registry(&self, reads: &[RegRead]) -> Result<RegistryRead, SourceError> {
        Ok(registry::read(reads))
    }

    fn wmi(&self, query: &WmiQuery) -> Result<Vec<CimObject>, SourceError> {
        wmi::query(query)
    }

    fn services(&self) -> Result<Vec<ScmService>, SourceError> {
        scm::services()
    }

    fn sockets(&self) -> Result<SocketTables, SourceError> {
        iphlp::sockets()
    }

    fn processes(&self) -> Result<BTreeMap<u32, String>, SourceError> {
        use ::sysinfo::{ProcessRefreshKind, RefreshKind, System};
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_processes(ProcessRefreshKind::nothing()),
        )
        .map_err(|e| SourceError::failed("process list", e.to_string()))?;
        Ok(system
            .processes()
            .iter()
            .map(|(pid, p)| (pid.as_u32(), p.name().to_string_lossy().into_owned()))
            .collect())
    }

    fn group_members(&self, sid: &str) -> Result<Vec<GroupMember>, SourceError> {
        netapi::members(sid)
    }

    fn boot_time(&self) -> Result<DateTime<Utc>, SourceError> {
        let secs = ::sysinfo::System::boot_time()
            .map_err(|e| SourceError::failed("boot time", e.to_string()))?;
        i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .ok_or_else(|| SourceError::failed("boot time", format!("{secs} is out of range")))
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
