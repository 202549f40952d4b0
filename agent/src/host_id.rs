//! The host's stable identity.
//!
//! In order: `/etc/machine-id` (survives agent reinstalls and hostname changes), else
//! the SMBIOS product UUID (survives OS reinstalls; often root-only), else a UUID
//! generated once and kept in the agent's state directory. Placeholder and all-zero
//! values some images ship are rejected.

use std::io;
use std::path::Path;

use estate_protocol::HostIdSource;

use crate::root::SysRoot;

/// File in the state directory holding a generated host id.
pub const GENERATED_ID_FILE: &str = "host-id";

/// SMBIOS product UUIDs that vendors use as placeholders.
const PLACEHOLDER_UUIDS: &[&str] = &[
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",
];

/// Why no host id could be had.
#[derive(Debug, thiserror::Error)]
#[error("cannot keep a generated host id in {path}: {source}")]
pub struct HostIdError {
    /// The state file.
    pub path: String,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// Finds the host id, generating and storing one in `state_dir` as a last resort.
pub fn host_id(root: &SysRoot, state_dir: &Path) -> Result<(String, HostIdSource), HostIdError> {
    if let Some(id) = machine_id(root) {
        return Ok((id, HostIdSource::MachineId));
    }
    if let Some(id) = smbios_uuid(root) {
        return Ok((id, HostIdSource::SmbiosUuid));
    }
    generated_id(state_dir).map(|id| (id, HostIdSource::Generated))
}

/// `/etc/machine-id` when it holds 32 hex digits that are not all zero.
pub fn machine_id(root: &SysRoot) -> Option<String> {
    let text = root.read_attr("/etc/machine-id").ok().flatten()?;
    let id = text.to_ascii_lowercase();
    let valid = id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit());
    (valid && id.chars().any(|c| c != '0')).then_some(id)
}

/// The SMBIOS product UUID when it is readable and not a placeholder.
pub fn smbios_uuid(root: &SysRoot) -> Option<String> {
    let text = root
        .read_attr("/sys/class/dmi/id/product_uuid")
        .ok()
        .flatten()?;
    let parsed = uuid::Uuid::parse_str(text.trim()).ok()?;
    let id = parsed.hyphenated().to_string();
    (!PLACEHOLDER_UUIDS.contains(&id.as_str())).then_some(id)
}

/// The UUID kept in `state_dir/host-id`, created (atomically) when absent.
pub fn generated_id(state_dir: &Path) -> Result<String, HostIdError> {
    let path = state_dir.join(GENERATED_ID_FILE);
    let err = |source| HostIdError {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if let Ok(id) = uuid::Uuid::parse_str(text.trim()) {
                return Ok(id.hyphenated().to_string());
            }
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{}` is not a UUID; remove the file to generate a new id",
                    text.trim()
                ),
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let tmp = state_dir.join(format!("{GENERATED_ID_FILE}.tmp"));
    std::fs::write(&tmp, format!("{id}\n")).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, SysRoot) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let root = SysRoot::new(dir.path());
        (dir, root)
    }

    #[test]
    fn machine_id_wins_and_ignores_hostname() {
        let (_d, root) = root_with(&[
            ("/etc/machine-id", "4C1D2E8F9A0B4C5D8E7F6A5B4C3D2E1F\n"),
            ("/etc/hostname", "renamed"),
            (
                "/sys/class/dmi/id/product_uuid",
                "4c4c4544-0051-3510-8052-b7c04f4e3532",
            ),
        ]);
        let state = tempfile::tempdir().unwrap();
        let (id, source) = host_id(&root, state.path()).unwrap();
        assert_eq!(id, "4c1d2e8f9a0b4c5d8e7f6a5b4c3d2e1f");
        assert_eq!(source, HostIdSource::MachineId);
    }

    #[test]
    fn empty_or_zero_machine_id_falls_back_to_smbios() {
        let (_d, root) = root_with(&[
            ("/etc/machine-id", "00000000000000000000000000000000\n"),
            (
                "/sys/class/dmi/id/product_uuid",
                "4C4C4544-0051-3510-8052-B7C04F4E3532\n",
            ),
        ]);
        let state = tempfile::tempdir().unwrap();
        let (id, source) = host_id(&root, state.path()).unwrap();
        assert_eq!(id, "4c4c4544-0051-3510-8052-b7c04f4e3532");
        assert_eq!(source, HostIdSource::SmbiosUuid);
    }

    #[test]
    fn generated_id_is_kept_across_runs_and_placeholders_are_ignored() {
        let (_d, root) = root_with(&[(
            "/sys/class/dmi/id/product_uuid",
            "03000200-0400-0500-0006-000700080009",
        )]);
        let state = tempfile::tempdir().unwrap();
        let (first, source) = host_id(&root, state.path()).unwrap();
        assert_eq!(source, HostIdSource::Generated);
        let (second, _) = host_id(&root, state.path()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn corrupt_generated_id_is_an_error_not_a_new_identity() {
        let state = tempfile::tempdir().unwrap();
        std::fs::write(state.path().join(GENERATED_ID_FILE), "garbage").unwrap();
        let (_d, root) = root_with(&[]);
        let err = host_id(&root, state.path()).unwrap_err();
        assert!(err.to_string().contains("is not a UUID"), "{err}");
    }
}
